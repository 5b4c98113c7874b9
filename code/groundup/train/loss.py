"""The training objective, next-token cross-entropy, and how we measure it.

With teacher forcing, one forward pass over a window of T tokens yields T
predictions at once: at position t the model has seen the true tokens 0..t
(never its own guesses) and is scored on the true token t + 1. The loss is the
average, over all B * T positions, of -log p(correct next token): 0 for a
perfect model and log(vocab_size) for one that guesses uniformly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groundup.train.data import BatchLoader


# --8<-- [start:cross_entropy]
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss: logits (B, T, vocab) and targets (B, T) -> a scalar.

    Flattening turns the (B, T) grid into B * T independent classification
    problems; `F.cross_entropy` takes log_softmax over the vocabulary and picks
    out -log p(target) at each position, then averages.
    """
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))


# --8<-- [end:cross_entropy]


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: BatchLoader, iters: int, part: tuple[int, int] = (0, 1)
) -> float:
    """Mean loss of `model` over the fixed batches 0..iters-1 of `loader`.

    The batches depend only on the loader's seed, so two calls see the same data
    and the numbers are comparable across training. Dropout is off during the
    measurement (eval mode); the model's mode is restored after.

    With `part=(rank, world_size)` this process evaluates only the batches
    i with i % world_size == rank and returns their loss sum / iters: adding up
    the parts of all processes gives the same mean, split N ways.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    rank, world_size = part
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(rank, iters, world_size):
        x, y = loader.batch(i)
        _, loss = model(x, y)
        total += loss.item()
    model.train(was_training)
    return total / iters
