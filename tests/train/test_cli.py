"""End to end through `python -m groundup.train`: crash and resume, DDP, refusals.

Each run is a real subprocess on a tiny GPT (2 layers, d_model 32) trained on
the bytes of a short text (vocabulary 256).
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
import this
from pathlib import Path

import pytest
import torch

from groundup.train import latest_checkpoint, load_checkpoint, write_tokens
from groundup.train.__main__ import main
from groundup.train.checkpoint import checkpoint_path

TEXT = codecs.decode(this.s, "rot13")  # the Zen of Python, ~850 bytes
MAX_STEPS = 30


def make_config(folder: Path, **changes) -> Path:
    """Token files of TEXT (train: 20 copies, val: 3) and a tiny run config in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = list(TEXT.encode("utf-8"))
    write_tokens(folder / "train.bin", data * 20, vocab_size=256)
    write_tokens(folder / "val.bin", data[::-1] + data * 2, vocab_size=256)
    config = {
        "train_data": "train.bin",
        "val_data": "val.bin",
        "out_dir": "out",
        "model": {"n_layer": 2, "n_head": 2, "d_model": 32, "dropout": 0.1},
        "batch_size": 4,
        "block_size": 16,
        "max_steps": MAX_STEPS,
        "lr": 3e-3,
        "min_lr": 3e-4,
        "warmup_steps": 3,
        "eval_interval": 10,
        "eval_iters": 2,
        "checkpoint_interval": 10,
        "seed": 7,
        "progress": False,
        **changes,
    }
    path = folder / "run.json"
    path.write_text(json.dumps(config))
    return path


def run(config: Path, *args: str, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m [launcher -m] groundup.train --config config args...`, run in config's folder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    }
    env["OMP_NUM_THREADS"] = "1"  # the same threading in every process, as torchrun sets
    cmd = [sys.executable, "-m", *launcher, "groundup.train", "--config", str(config), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=180, cwd=config.parent, check=False
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    """An uninterrupted run: its config and its final checkpoint."""
    folder = tmp_path_factory.mktemp("reference")
    config = make_config(folder)
    proc = ok(run(config))
    assert "done: 30 steps" in proc.stdout
    return config, load_checkpoint(checkpoint_path(folder / "out", MAX_STEPS))


def assert_identical_runs(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == MAX_STEPS
    assert len(a["losses"]) == MAX_STEPS
    assert a["losses"] == b["losses"]  # bit-for-bit equal floats, every step
    assert a["eval_losses"] == b["eval_losses"]
    assert a["params_sha256"] == b["params_sha256"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_training_learns(reference) -> None:
    _, ckpt = reference
    evals = ckpt["eval_losses"]
    assert sorted(evals) == [0, 10, 20, 30]
    assert 5.0 < evals[0] < 6.0  # ~ log(256) = 5.55 before training
    assert evals[30] < evals[0] - 1.5
    assert sum(ckpt["losses"][-5:]) < sum(ckpt["losses"][:5]) - 5 * 1.5
    assert ckpt["model_config"]["vocab_size"] == 256  # taken from the token file
    assert ckpt["model_config"]["block_size"] == 16  # taken from the training block size
    assert ckpt["train_config"]["max_steps"] == MAX_STEPS


@pytest.mark.timeout(120)
@pytest.mark.linux  # SIGKILL (Windows has none)
@pytest.mark.parametrize(
    "kill_at",
    [pytest.param(5, marks=pytest.mark.slow), pytest.param(20, marks=pytest.mark.slow), 25],
)
def test_killed_and_resumed_run_reproduces_every_loss(reference, tmp_path, kill_at) -> None:
    """SIGKILL after step `kill_at` (before any checkpoint, right after one, between two),
    then `--resume`: the complete history equals the uninterrupted run's, bit for bit."""
    _, ref = reference
    config = make_config(tmp_path)
    killed = run(config, "--kill-at-step", str(kill_at))
    assert killed.returncode == -9, killed.stderr  # died of SIGKILL, mid-run
    out = tmp_path / "out"
    assert latest_checkpoint(out) == (
        checkpoint_path(out, kill_at // 10 * 10) if kill_at >= 10 else None
    )
    # the debris of a write the kill interrupted is ignored
    out.mkdir(exist_ok=True)
    (out / ".ckpt_00000030.pt.x1y2z3.tmp").write_bytes(b"\x00" * 100)

    proc = ok(run(config, "--resume"))
    if kill_at >= 10:
        assert f"resuming from {out / f'ckpt_{kill_at // 10 * 10:08d}.pt'}" in proc.stdout
    assert_identical_runs(ref, load_checkpoint(checkpoint_path(out, MAX_STEPS)))
    assert not checkpoint_path(out, 10).exists()  # only the newest 2 are kept


# The refusals run `main` in this process: same code path, no interpreter start-up.


def test_without_resume_an_existing_run_is_not_overwritten(reference, capsys) -> None:
    config, _ = reference
    before = {p.name: p.stat().st_mtime_ns for p in (config.parent / "out").iterdir()}
    assert main(["--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "already holds checkpoints" in err and "--resume" in err
    assert {p.name: p.stat().st_mtime_ns for p in (config.parent / "out").iterdir()} == before


def test_resume_refuses_a_damaged_checkpoint(reference, tmp_path, capsys) -> None:
    config, _ = reference
    shutil.copytree(config.parent, tmp_path, dirs_exist_ok=True)
    latest = latest_checkpoint(tmp_path / "out")
    assert latest is not None
    data = bytearray(latest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    latest.write_bytes(bytes(data))
    args = ["--config", str(tmp_path / "run.json"), "--resume", "--max-steps", "40"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "CheckpointError" in err and "SHA-256 mismatch" in err and latest.name in err
    latest.write_bytes(bytes(data[: len(data) // 3]))
    assert main(args) == 1
    assert "truncated" in capsys.readouterr().err


def test_resume_refuses_another_model(reference, tmp_path, capsys) -> None:
    config, _ = reference
    shutil.copytree(config.parent, tmp_path, dirs_exist_ok=True)
    assert (
        main(["--config", str(tmp_path / "run.json"), "--resume", "--set", "model.d_model=48"]) == 1
    )
    assert "model config" in capsys.readouterr().err


def test_resume_extends_a_finished_run(reference, tmp_path, capsys) -> None:
    config, ref = reference
    shutil.copytree(config.parent, tmp_path, dirs_exist_ok=True)
    assert main(["--config", str(tmp_path / "run.json"), "--resume", "--max-steps", "33"]) == 0
    assert "done: 33 steps" in capsys.readouterr().out
    ckpt = load_checkpoint(checkpoint_path(tmp_path / "out", 33))
    assert ckpt["losses"][:MAX_STEPS] == ref["losses"] and len(ckpt["losses"]) == 33


def test_bad_config_is_a_clear_error(tmp_path, capsys) -> None:
    config = make_config(tmp_path, warmup_steps=100)
    assert main(["--config", str(config)]) == 2
    assert "warmup_steps must be in [0, max_steps=30]" in capsys.readouterr().err
    config = make_config(tmp_path)
    assert main(["--config", str(config), "--set", "model.n_layers=3"]) == 2
    assert "bad model config" in capsys.readouterr().err
    assert main(["--config", str(config), "--set", "model.block_size=8"]) == 2
    assert "exceeds the model's block_size 8" in capsys.readouterr().err
    assert main(["--config", str(config), "--train-data", str(tmp_path / "nope.bin")]) == 2
    assert "no such token file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(150)
def test_ddp_two_ranks_average_gradients(tmp_path) -> None:
    """torchrun, 2 CPU processes (gloo), each accumulating 2 micro-batches (the first
    under `no_sync`), vs 1 process accumulating the same 4: the same losses and
    weights, and both ranks end identical."""
    steps = "20"
    config = make_config(tmp_path, model={"n_layer": 2, "n_head": 2, "d_model": 32})
    ddp = ok(
        run(
            config,
            "--max-steps",
            steps,
            "--out-dir",
            "ddp",
            "--grad-accum-steps",
            "2",
            launcher=("torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"),
        )
    )
    assert ddp.stdout.count("done: 20 steps") == 1  # only rank 0 prints
    single = ok(run(config, "--max-steps", steps, "--out-dir", "single", "--grad-accum-steps", "4"))
    assert "done: 20 steps" in single.stdout

    ddp_latest = latest_checkpoint(tmp_path / "ddp")
    single_latest = latest_checkpoint(tmp_path / "single")
    assert ddp_latest is not None and single_latest is not None
    a = load_checkpoint(ddp_latest)
    b = load_checkpoint(single_latest)
    assert a["step"] == b["step"] == 20
    assert a["world_size"] == 2 and len(a["rng"]) == 2
    assert a["params_sha256"][0] == a["params_sha256"][1]  # the replicas never diverged
    assert a["eval_losses"][20] < a["eval_losses"][0] - 1.0  # and they learned
    torch.testing.assert_close(
        torch.tensor(a["losses"]), torch.tensor(b["losses"]), rtol=1e-5, atol=1e-6
    )
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=1e-4, atol=1e-5, msg=name)
    for step, loss in a["eval_losses"].items():  # eval batches are split across the ranks
        assert loss == pytest.approx(b["eval_losses"][step], rel=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ddp_killed_and_resumed_run_reproduces_every_loss(tmp_path) -> None:
    """The same crash test under torchrun, with dropout: each rank's RNG state is restored."""
    torchrun = ("torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m")
    config = make_config(tmp_path, max_steps=20)
    ok(run(config, "--out-dir", "whole", launcher=torchrun))
    killed = run(config, "--out-dir", "killed", "--kill-at-step", "15", launcher=torchrun)
    assert killed.returncode != 0
    assert latest_checkpoint(tmp_path / "killed") == checkpoint_path(tmp_path / "killed", 10)
    ok(run(config, "--out-dir", "killed", "--resume", launcher=torchrun))
    a = load_checkpoint(checkpoint_path(tmp_path / "whole", 20))
    b = load_checkpoint(checkpoint_path(tmp_path / "killed", 20))
    assert a["losses"] == b["losses"] and a["eval_losses"] == b["eval_losses"]
    assert len(set(a["params_sha256"] + b["params_sha256"])) == 1
    assert not torch.equal(a["rng"][0]["torch"], a["rng"][1]["torch"])  # own dropout per rank
