"""Scoring a language model on held-out text, and the unigram baseline it must beat.

Both return the mean cross-entropy in nats per token over the same predictions:
every token of the held-out ids except the first, each predicted once.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from groundup.model import GPT


# --8<-- [start:heldout_loss]
@torch.no_grad()
def heldout_loss(model: GPT, ids: np.ndarray | torch.Tensor, batch_size: int = 32) -> float:
    """Mean next-token loss over ids (N,), in windows of block_size + 1 tokens.

    Window k holds ids[kT : kT + T + 1] and predicts its last T tokens, so every
    token from the second on is predicted exactly once (each window starts with a
    fresh context, as a model deployed on separate documents would).
    """
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    T = model.config.block_size
    if ids.numel() < 2:
        raise ValueError("need at least 2 tokens to score a prediction")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    starts = list(range(0, ids.numel() - 1, T))
    for i in range(0, len(starts), batch_size):
        windows = [ids[s : s + T + 1] for s in starts[i : i + batch_size]]
        if windows[-1].numel() < T + 1:  # a short last window goes on its own
            windows, last = windows[:-1], windows[-1]
            total += _window_loss(model, last[None]) * (last.numel() - 1)
            count += last.numel() - 1
        if windows:
            batch = torch.stack(windows)  # (B, T + 1)
            total += _window_loss(model, batch) * batch.size(0) * T
            count += batch.size(0) * T
    model.train(was_training)
    return total / count


# --8<-- [end:heldout_loss]


def _window_loss(model: nn.Module, batch: torch.Tensor) -> float:
    _, loss = model(batch[:, :-1], batch[:, 1:])
    return float(loss)


# --8<-- [start:unigram_loss]
def unigram_loss(
    train_ids: np.ndarray, heldout_ids: np.ndarray, vocab_size: int, alpha: float = 1.0
) -> float:
    """Loss of the best context-free guess: p(token) = (count in train + alpha) /
    (N + alpha * vocab_size), scored on heldout_ids[1:], the model's targets."""
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=vocab_size)
    probs = (counts + alpha) / (counts.sum() + alpha * vocab_size)
    targets = np.asarray(heldout_ids, dtype=np.int64)[1:]
    return float(-np.log(probs[targets]).mean())


# --8<-- [end:unigram_loss]
