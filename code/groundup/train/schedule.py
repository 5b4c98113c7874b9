"""The learning-rate schedule: linear warmup, then cosine decay to a floor.

Early in training the gradients are large and Adam's moment estimates are
built from only a few steps, so big updates are risky: the learning rate ramps
up linearly over `warmup_steps`. Afterwards it follows half a cosine from
`max_lr` down to `min_lr`, reached at `max_steps`, and stays there.
"""

from __future__ import annotations

import math

import torch

from groundup.train.config import TrainConfig


# --8<-- [start:lr_schedule]
def lr_at(step: int, *, max_lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> float:
    """Learning rate for the update with index `step` (0 = the first update).

    - warmup: step 0..warmup_steps-1 climbs linearly to max_lr,
      max_lr * (step + 1) / warmup_steps, so no update has a learning rate of 0;
    - decay: from max_lr at step == warmup_steps to min_lr at step == max_steps,
      along min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2;
    - after max_steps: min_lr.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if not 0 <= warmup_steps <= max_steps:
        raise ValueError(f"need 0 <= warmup_steps <= max_steps, got {warmup_steps}, {max_steps}")
    if not 0 <= min_lr <= max_lr:
        raise ValueError(f"need 0 <= min_lr <= max_lr, got {min_lr}, {max_lr}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 -> 1
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, step: int, config: TrainConfig) -> float:
    """Give every parameter group of `optimizer` the learning rate of update `step`."""
    lr = lr_at(
        step,
        max_lr=config.lr,
        min_lr=config.min_lr,
        warmup_steps=config.warmup_steps,
        max_steps=config.max_steps,
    )
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


# --8<-- [end:lr_schedule]
