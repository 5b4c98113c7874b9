"""TrainConfig: files (JSON, TOML), validation, and command-line overrides."""

from __future__ import annotations

import argparse
import json

import pytest

from groundup.train import TrainConfig, apply_overrides, load_config
from groundup.train.__main__ import build_parser
from groundup.train.config import config_from_args


def write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_json_file_with_relative_paths(tmp_path) -> None:
    (tmp_path / "runs").mkdir()
    path = write(
        tmp_path / "runs" / "a.json",
        {
            "train_data": "data/train.bin",
            "val_data": "/abs/val.bin",
            "out_dir": "out",
            "model": {"n_layer": 2},
            "max_steps": 50,
            "lr": 1,
            "warmup_steps": 5.0,
        },
    )
    cfg = load_config(path)
    assert cfg.train_data == str(tmp_path / "runs" / "data" / "train.bin")
    assert cfg.val_data == "/abs/val.bin"
    assert cfg.out_dir == str(tmp_path / "runs" / "out")
    assert cfg.model == {"n_layer": 2}
    assert cfg.max_steps == 50 and cfg.warmup_steps == 5 and isinstance(cfg.warmup_steps, int)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.batch_size == TrainConfig().batch_size  # defaults fill the rest
    assert TrainConfig(**json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_toml_file(tmp_path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('train_data = "t.bin"\nmax_steps = 7\nwarmup_steps = 1\n[model]\nn_head = 2\n')
    cfg = load_config(path)
    assert cfg.max_steps == 7 and cfg.model == {"n_head": 2}
    assert cfg.train_data == str(tmp_path / "t.bin")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"max_step": 5}, r"unknown config keys \['max_step'\]"),
        ({"max_steps": "5"}, "max_steps must be int"),
        ({"max_steps": 5.5}, "max_steps must be int"),
        ({"max_steps": True}, "max_steps must be int"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"warmup_steps": 2000}, "warmup_steps"),
        ({"min_lr": 1.0, "lr": 0.1}, "min_lr"),
        ({"beta2": 1.0}, "betas"),
        ({"model": [1]}, "model must be dict"),
    ],
)
def test_invalid_files(tmp_path, data, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        load_config(write(tmp_path / "bad.json", data))


def test_file_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.json")
    (tmp_path / "a.yaml").write_text("max_steps: 3")
    with pytest.raises(ValueError, match=".json or .toml"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(TypeError, match="object"):
        load_config(write(tmp_path / "list.json", [1, 2]))


def test_overrides() -> None:
    cfg = apply_overrides(
        TrainConfig(model={"n_layer": 2}, warmup_steps=10),
        {"max_steps": 30, "model.d_model": 64, "val_data": None},
    )
    assert cfg.max_steps == 30 and cfg.model == {"n_layer": 2, "d_model": 64}
    with pytest.raises(ValueError, match="unknown"):
        apply_overrides(cfg, {"nope": 1})


def test_command_line(tmp_path) -> None:
    path = write(
        tmp_path / "a.json",
        {"max_steps": 50, "warmup_steps": 5, "lr": 0.01, "model": {"n_layer": 2}},
    )
    args = build_parser().parse_args(
        [
            "--config",
            path,
            "--max-steps",
            "20",
            "--lr",
            "3e-3",
            "--out-dir",
            "123",
            "--no-progress",
            "--set",
            "model.n_layer=4",
            "--set",
            "model.norm=rmsnorm",
            "--set",
            "val_data=null",
            "--resume",
        ]
    )
    assert args.resume
    cfg = config_from_args(args)
    assert cfg.max_steps == 20 and cfg.lr == 3e-3 and cfg.progress is False
    assert cfg.out_dir == "123"  # relative to the current directory, kept a string
    assert cfg.model == {"n_layer": 4, "norm": "rmsnorm"} and cfg.val_data is None
    assert cfg.batch_size == TrainConfig().batch_size  # untouched fields keep the file's value
    with pytest.raises(ValueError, match="KEY=VALUE"):
        config_from_args(build_parser().parse_args(["--config", path, "--set", "lr"]))
    with pytest.raises(ValueError, match="max_steps must be int"):
        config_from_args(build_parser().parse_args(["--config", path, "--max-steps", "x"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args([])  # --config is required
    assert isinstance(build_parser(), argparse.ArgumentParser)
