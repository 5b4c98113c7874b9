"""Teacher forcing: one forward pass scores every position of a window at once.

A causal model's output at position t depends only on tokens 0..t, so a single
forward pass over T tokens gives the same T predictions as T separate passes
over the prefixes of length 1, 2, ..., T, each conditioned on the *true*
prefix (never on the model's own guesses). Training uses the one pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# --8<-- [start:teacher_forcing]
@torch.no_grad()
def position_losses(model: nn.Module, window: torch.Tensor) -> torch.Tensor:
    """window (T + 1,) ids -> (T,): -log p(window[t + 1] | window[:t + 1]), ONE forward."""
    x, y = window[:-1], window[1:]  # inputs and targets, shifted by one
    logits, _ = model(x[None])  # (1, T, V)
    return F.cross_entropy(logits[0], y, reduction="none")


@torch.no_grad()
def prefix_losses(model: nn.Module, window: torch.Tensor) -> torch.Tensor:
    """The same T losses from T forwards: forward t sees only the prefix window[:t + 1]."""
    losses = []
    for t in range(len(window) - 1):
        logits, _ = model(window[None, : t + 1])  # (1, t + 1, V)
        losses.append(F.cross_entropy(logits[0, -1], window[t + 1]))
    return torch.stack(losses)


# --8<-- [end:teacher_forcing]
