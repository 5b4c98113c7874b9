"""AdamW with weight decay on the weight matrices only, and gradient clipping.

Weight decay pulls parameters toward zero a little at every step, a brake on
weights that grow without need. It makes sense for the matrices that mix
features (linear layers, embeddings), not for biases and the gains of
normalization layers, whose job is to shift and scale: decaying a LayerNorm
gain toward 0 would switch its layer off. The rule of thumb used by GPT-2-style
code bases: decay every parameter with 2 or more dimensions, nothing else.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


# --8<-- [start:param_groups]
def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW parameter groups: 2-D+ tensors with `weight_decay`, the rest without.

    `named_parameters` lists a shared (tied) tensor once, so a token embedding
    that doubles as the output head is decayed exactly once.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    """AdamW over `param_groups(model, weight_decay)`; the schedule sets `lr` every step."""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps)


# --8<-- [end:param_groups]


# --8<-- [start:clip]
def clip_gradients(model: nn.Module, max_norm: float) -> float:
    """Scale all gradients down together if their global L2 norm exceeds `max_norm`.

    Returns the norm before clipping (worth logging: spikes announce trouble).
    `max_norm <= 0` measures the norm without clipping.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    limit = max_norm if max_norm > 0 else float("inf")
    return float(torch.nn.utils.clip_grad_norm_(params, limit))


# --8<-- [end:clip]
