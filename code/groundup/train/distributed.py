"""Data-parallel training: the same script on N processes, each with its own batches.

`torchrun --nproc_per_node N -m groundup.train ...` starts N copies of the
training script and tells each who it is through environment variables
(`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, and where to meet: `MASTER_ADDR`,
`MASTER_PORT`). Every process holds a full copy of the model and draws its own
batches; `DistributedDataParallel` averages the gradients across processes
during `backward()`, so every copy takes the same optimizer step and the copies
stay identical. The update is the one a single process would make on all N
batches at once.

Without torchrun (`WORLD_SIZE` unset or 1) everything here does nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Who this process is among the processes of one run."""

    rank: int = 0  # 0..world_size-1 across all machines
    local_rank: int = 0  # index on this machine: which GPU to use
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone prints, shows progress and writes checkpoints."""
        return self.rank == 0


# --8<-- [start:setup]
def setup_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join the process group if launched by torchrun; return who we are and our device.

    On CPU the processes talk through the gloo backend; on GPUs through NCCL,
    with process `local_rank` using GPU `local_rank`.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo(), torch.device(device)
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), world_size)
    if device.startswith("cuda"):
        torch_device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(torch_device)
        backend = "nccl"
    else:
        torch_device, backend = torch.device(device), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return info, torch_device


def cleanup_distributed() -> None:
    """Leave the process group (call once, at the end of the run)."""
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed(device: str) -> Iterator[tuple[DistInfo, torch.device]]:
    """`with distributed("cpu") as (info, device):` joins the group and always leaves it
    (unless the caller had set up the group itself, then it stays the caller's)."""
    ours = not dist.is_initialized()
    info, torch_device = setup_distributed(device)
    try:
        yield info, torch_device
    finally:
        if ours:
            cleanup_distributed()


# --8<-- [end:setup]


def sum_across_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """The sum of `value` over all processes (every process gets the result)."""
    if not info.enabled:
        return value
    t = torch.tensor(value, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.item()


def mean_across_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """The average of `value` over all processes (every process gets the result)."""
    return sum_across_ranks(value, info, device) / info.world_size


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...] on every process (picklable objects)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    """Wait until every process gets here."""
    if info.enabled:
        dist.barrier()
