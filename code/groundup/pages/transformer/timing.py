"""Wall-clock timing that survives a busy machine: best of N, on one thread.

The site is built on small shared machines. Taking the minimum of several runs
removes most of the noise other processes add (noise only ever makes a run
slower), and pinning PyTorch to one thread keeps an operation from waiting for
a second core that another process is using.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the body with `torch.set_num_threads(1)`, then restore the old setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --8<-- [start:best_time]
def best_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """The fastest of `repeats` calls of fn(), in seconds, after `warmup` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# --8<-- [end:best_time]
