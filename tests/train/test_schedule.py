"""The learning-rate schedule: linear warmup to the peak, cosine decay to the floor."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from groundup.train import TrainConfig, lr_at, set_lr


def lrs(
    max_steps: int, warmup: int, max_lr: float = 1e-3, min_lr: float = 1e-4, extra: int = 0
) -> list[float]:
    return [
        lr_at(s, max_lr=max_lr, min_lr=min_lr, warmup_steps=warmup, max_steps=max_steps)
        for s in range(max_steps + 1 + extra)
    ]


def test_known_values() -> None:
    lr = functools.partial(lr_at, max_lr=1.0, min_lr=0.0, warmup_steps=10, max_steps=110)
    assert lr(0) == pytest.approx(0.1)
    assert lr(4) == pytest.approx(0.5)
    assert lr(9) == pytest.approx(1.0)
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.5)  # halfway through the cosine
    assert lr(35) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr(110) == 0.0
    assert lr(1000) == 0.0


@given(
    max_steps=st.integers(1, 400),
    warmup_frac=st.floats(0, 1),
    max_lr=st.floats(1e-5, 1.0),
    min_frac=st.floats(0, 1),
)
def test_shape(max_steps: int, warmup_frac: float, max_lr: float, min_frac: float) -> None:
    warmup = int(warmup_frac * max_steps)
    min_lr = max_lr * min_frac
    values = lrs(max_steps, warmup, max_lr, min_lr, extra=5)
    # warmup is linear in (step + 1), never 0, and ends at the peak
    for s in range(warmup):
        assert values[s] == pytest.approx(max_lr * (s + 1) / warmup)
        assert values[s] > 0
    if warmup:
        assert values[warmup - 1] == pytest.approx(max_lr)
    # the peak: nothing exceeds max_lr, and the decay starts from it
    assert max(values) <= max_lr * (1 + 1e-12)
    if warmup < max_steps:
        assert values[warmup] == pytest.approx(max_lr)
    # monotone non-increasing after warmup, down to exactly min_lr at max_steps and beyond
    after = values[warmup:]
    assert all(b <= a + 1e-15 for a, b in itertools.pairwise(after))
    assert all(v >= min_lr - 1e-15 for v in after)  # (warmup starts below the floor)
    assert values[max_steps:] == [min_lr] * 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"step": -1, "max_lr": 1.0, "min_lr": 0.0, "warmup_steps": 0, "max_steps": 10},
        {"step": 0, "max_lr": 1.0, "min_lr": 0.0, "warmup_steps": 11, "max_steps": 10},
        {"step": 0, "max_lr": 1.0, "min_lr": 2.0, "warmup_steps": 0, "max_steps": 10},
        {"step": 0, "max_lr": 1.0, "min_lr": -1.0, "warmup_steps": 0, "max_steps": 10},
    ],
)
def test_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        lr_at(**kwargs)


def test_set_lr_gives_every_group_the_scheduled_rate() -> None:
    config = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_steps=4, max_steps=20)
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    groups: list[dict[str, Any]] = [{"params": [a]}, {"params": [b], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups)
    for step in (0, 3, 4, 11, 25):
        lr = set_lr(optimizer, step, config)
        assert lr == lr_at(step, max_lr=1e-3, min_lr=1e-4, warmup_steps=4, max_steps=20)
        assert [g["lr"] for g in optimizer.param_groups] == [lr, lr]
