"""The README's training commands: prepare token files, then train from configs/site.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from groundup.site import SITE_MODEL, SITE_TRAINING, site_tokenizer
from groundup.train import open_tokens
from groundup.train.prepare import main as prepare_main

ROOT = Path(__file__).resolve().parents[2]


def test_configs_site_json_is_the_site_model():
    config = json.loads((ROOT / "configs" / "site.json").read_text())
    assert config["model"] == SITE_MODEL
    assert {k: config[k] for k in SITE_TRAINING} == SITE_TRAINING


def test_prepare_writes_train_and_val(tmp_path):
    text = tmp_path / "input.txt"
    text.write_text("".join(f"line {i}: the quick brown fox\n" for i in range(200)))
    assert prepare_main([str(tmp_path / "data"), "--text", str(text), "--holdout", "0.2"]) == 0
    tok = site_tokenizer()
    train, val = (
        open_tokens(tmp_path / "data" / "train.bin"),
        open_tokens(tmp_path / "data" / "val.bin"),
    )
    assert tok.decode(train.tolist()) + tok.decode(val.tolist()) == text.read_text()
    assert 0.1 < len(val) / (len(train) + len(val)) < 0.3


def test_prepare_reports_a_missing_file(tmp_path, capsys):
    assert prepare_main([str(tmp_path), "--text", str(tmp_path / "nope.txt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_readme_commands_train_a_few_steps(tmp_path):
    """`prepare data/` then `python -m groundup.train --config configs/site.json`,
    with the folders moved to tmp_path and the run cut to 3 steps."""
    subprocess.run(
        [sys.executable, "-m", "groundup.train.prepare", str(tmp_path / "data")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    config = json.loads((ROOT / "configs" / "site.json").read_text())
    config.update(
        train_data=str(tmp_path / "data" / "train.bin"),
        val_data=str(tmp_path / "data" / "val.bin"),
        out_dir=str(tmp_path / "out"),
    )
    (tmp_path / "site.json").write_text(json.dumps(config))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "groundup.train",
            "--config",
            str(tmp_path / "site.json"),
            "--max-steps",
            "3",
            "--warmup-steps",
            "1",
            "--eval-iters",
            "1",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "done: 3 steps" in done.stdout
    assert list((tmp_path / "out").glob("ckpt_*.pt"))
