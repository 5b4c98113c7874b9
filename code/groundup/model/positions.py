"""Positional information: sinusoidal, learned, RoPE and ALiBi.

Attention on its own treats its input as a *set*: permute the tokens and each
output is permuted the same way. Each scheme here breaks that symmetry in a
different place: added to the input vectors (sinusoidal, learned), applied as
a rotation to queries and keys (RoPE), or added to the attention scores (ALiBi).
"""

from __future__ import annotations

import math

import torch
from torch import nn


# --8<-- [start:sinusoidal]
def sinusoidal_positions(n_positions: int, dim: int) -> torch.Tensor:
    """The fixed encoding of "Attention Is All You Need": (n_positions, dim).

    PE[p, 2i] = sin(p / 10000^(2i/dim)),  PE[p, 2i+1] = cos(p / 10000^(2i/dim)).
    """
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]  # (P, 1)
    inv_freq = 10_000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
    angles = position * inv_freq  # (P, dim/2)
    pe = torch.zeros(n_positions, dim)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe


# --8<-- [end:sinusoidal]


# --8<-- [start:learned]
class LearnedPositions(nn.Module):
    """One trained vector per position (GPT-2): (T,) positions -> (T, dim)."""

    def __init__(self, n_positions: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_positions, dim))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.weight[positions]


# --8<-- [end:learned]


# --8<-- [start:rope]
def rope_angles(
    n_positions: int, head_dim: int, theta: float = 10_000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables for RoPE, each (n_positions, head_dim).

    Dimension pair (i, i + head_dim/2) of the vector at position p is rotated by
    the angle p * theta^(-2i/head_dim): fast rotations for the first pairs, slow
    ones for the last.
    """
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(n_positions, dtype=torch.float32), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)  # (P, head_dim)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys x: (B, H, T, head_dim) by their position's angles.

    With x = (x1, x2) split in halves, each pair (x1[i], x2[i]) becomes
    (x1 cos - x2 sin, x2 cos + x1 sin): a 2-D rotation. cos, sin: (T, head_dim), the
    rows of each token's position (or (B, 1, T, head_dim) when rows differ in positions).
    """
    x1, x2 = x.chunk(2, dim=-1)
    rotated_half = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated_half * sin


# --8<-- [end:rope]


# --8<-- [start:alibi]
def alibi_slopes(n_head: int) -> torch.Tensor:
    """One slope per head, a geometric sequence: 2^(-8/n), 2^(-16/n), ... (n a power of 2).

    For other head counts, ALiBi takes the slopes of the nearest smaller power
    of two and fills in with every other slope of the next power of two.
    """

    def geometric(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_head))
    slopes = geometric(closest) + geometric(2 * closest)[0::2][: n_head - closest]
    return torch.tensor(slopes)


def alibi_bias(n_head: int, n_positions: int) -> torch.Tensor:
    """Added to the attention scores: bias[h, i, j] = -slope[h] * (i - j), (H, T, T).

    A query is penalised linearly in its distance to each key it attends to.
    Entries with j > i are positive here but are masked out by causality.
    """
    pos = torch.arange(n_positions)
    distance = (pos[:, None] - pos[None, :]).float()  # (T, T): i - j
    return -alibi_slopes(n_head)[:, None, None] * distance  # (H, T, T)


# --8<-- [end:alibi]
