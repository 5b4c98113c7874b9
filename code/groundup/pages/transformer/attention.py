"""Time and memory of explicit attention as the sequence grows."""

from __future__ import annotations

from typing import NamedTuple

import torch

from groundup.model.attention import scaled_dot_product_attention
from groundup.pages.transformer.timing import best_time, one_thread


class AttentionCost(NamedTuple):
    T: int
    seconds: float  # best of `repeats` runs, one CPU thread
    weight_bytes: int  # size of the (B, H, T, T) weights tensor the call returned


# --8<-- [start:cost]
def attention_cost(T: int, head_dim: int = 64, repeats: int = 5, seed: int = 0) -> AttentionCost:
    """Run scaled_dot_product_attention on one head of T random queries, keys and
    values, on one CPU thread (so the time does not depend on how many cores the
    machine has). Returns the best of `repeats` times and the size of the T x T
    weights tensor."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 1, T, head_dim, generator=g) for _ in range(3))
    with one_thread():
        seconds = best_time(lambda: scaled_dot_product_attention(q, k, v), repeats, warmup=0)
    _, weights = scaled_dot_product_attention(q, k, v)
    return AttentionCost(T, seconds, weights.numel() * weights.element_size())


# --8<-- [end:cost]
