"""Checkpoints: exact round trip, atomic replacement, and loud failure when damaged."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from groundup.model import GPT, GPTConfig
from groundup.train import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
)
from groundup.train.checkpoint import (
    HEADER,
    checkpoint_path,
    list_checkpoints,
    rng_state,
    set_rng_state,
)


def make_state(step: int = 3) -> dict:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=1, n_head=2, d_model=16))
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.1)
    _, loss = model(torch.randint(64, (2, 8)), torch.randint(64, (2, 8)))
    loss.backward()
    opt.step()
    return {
        "step": step,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "losses": [4.5, 4.25, 4.0],
        "eval_losses": {0: 4.6, 3: 4.1},
        "rng": [rng_state()],
        "train_config": {"lr": 1e-3, "val_data": None},
    }


def assert_same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


def test_round_trip_is_exact(tmp_path) -> None:
    state = make_state()
    path = save_checkpoint(tmp_path, 3, state)
    assert path == checkpoint_path(tmp_path, 3) == tmp_path / "ckpt_00000003.pt"
    assert_same(load_checkpoint(path), state)


def test_rng_state_round_trip(tmp_path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    save_checkpoint(tmp_path, 1, {"rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    set_rng_state(load_checkpoint(checkpoint_path(tmp_path, 1))["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0])
    np.testing.assert_array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def test_keeps_the_newest_and_ignores_temporary_files(tmp_path) -> None:
    state = {"step": 0}
    for step in (5, 10, 15, 20):
        save_checkpoint(tmp_path, step, state, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_00000015.pt", "ckpt_00000020.pt"]
    # what an interrupted atomic write leaves behind is never taken for a checkpoint
    (tmp_path / ".ckpt_00000025.pt.abc123.tmp").write_bytes(b"half a checkpo")
    (tmp_path / "notes.txt").write_text("hello")
    assert latest_checkpoint(tmp_path) == tmp_path / "ckpt_00000020.pt"
    # numeric, not lexicographic, order
    save_checkpoint(tmp_path, 100_000_000, state, keep=3)
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and latest.name == "ckpt_100000000.pt"
    assert latest_checkpoint(tmp_path / "missing") is None
    with pytest.raises(ValueError, match="keep"):
        save_checkpoint(tmp_path, 1, state, keep=0)


def test_replacing_a_checkpoint_is_atomic(tmp_path, monkeypatch) -> None:
    """A crash while writing leaves the previous checkpoint intact and loadable."""
    save_checkpoint(tmp_path, 7, {"step": 7, "version": "old"})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C, or the machine dying, at the worst moment

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 7, {"step": 7, "version": "new"})
    monkeypatch.undo()
    assert load_checkpoint(checkpoint_path(tmp_path, 7))["version"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_00000007.pt"]  # temp file cleaned


@pytest.fixture
def saved(tmp_path):
    return save_checkpoint(tmp_path, 3, make_state())


def test_truncated_checkpoints_raise(saved) -> None:
    data = saved.read_bytes()
    cuts = [0, 1, HEADER.size - 1, HEADER.size, HEADER.size + 1, len(data) // 2, len(data) - 1]
    for cut in cuts:
        saved.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated") as info:
            load_checkpoint(saved)
        assert str(saved) in str(info.value)


def test_flipped_bytes_raise(saved) -> None:
    data = saved.read_bytes()
    stride = max(1, (len(data) - HEADER.size) // 64)
    positions = sorted({*range(HEADER.size), *range(HEADER.size, len(data), stride), len(data) - 1})
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        saved.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match="magic|truncated|SHA-256 mismatch"):
            load_checkpoint(saved)
    saved.write_bytes(data)
    load_checkpoint(saved)  # and the intact file still loads


def test_appended_bytes_and_foreign_files_raise(saved, tmp_path) -> None:
    saved.write_bytes(saved.read_bytes() + b"\n")
    with pytest.raises(CheckpointError, match="extended"):
        load_checkpoint(saved)
    plain = tmp_path / "plain.pt"
    torch.save({"step": 1}, plain)  # a torch file without our header
    with pytest.raises(CheckpointError, match="not a Ground Up checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "missing.pt")
