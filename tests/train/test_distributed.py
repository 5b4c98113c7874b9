"""How a process finds its place in a torchrun job (groundup.train.distributed)."""

from __future__ import annotations

import pytest
import torch

from groundup.train import distributed


def test_a_single_process_joins_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info, device = distributed.setup_distributed("cpu")
    assert (info.rank, info.world_size, info.enabled) == (0, 1, False)
    assert device == torch.device("cpu")


@pytest.mark.parametrize(
    "device,backend,expected",
    [("cpu", "gloo", torch.device("cpu")), ("cuda", "nccl", torch.device("cuda", 1))],
)
def test_torchrun_ranks_pick_backend_and_device(monkeypatch, device, backend, expected):
    """Rank 3 of 4, local rank 1: gloo on CPU; NCCL and GPU `local_rank` on CUDA. The
    group is not really joined here (that needs the other ranks): we record the calls."""
    calls: dict[str, object] = {}
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(
        distributed.dist, "init_process_group", lambda backend: calls.update(backend=backend)
    )
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.update(cuda_device=d))
    info, torch_device = distributed.setup_distributed(device)
    assert (info.rank, info.local_rank, info.world_size) == (3, 1, 4)
    assert info.enabled and not info.is_main
    assert calls["backend"] == backend and torch_device == expected
    assert calls.get("cuda_device") == (expected if device == "cuda" else None)
