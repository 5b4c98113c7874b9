"""Measurements on the positional schemes of `groundup.model.positions`.

What the positional-encodings article shows about each scheme: the sinusoidal
table's shift is a rotation, RoPE's score depends only on the offset (and the
two memory layouts of RoPE differ by a fixed permutation), and how far each
ALiBi head can see.
"""

from __future__ import annotations

import math

import torch

from groundup.model.config import GPTConfig
from groundup.model.gpt import GPT
from groundup.model.positions import alibi_slopes, apply_rope, rope_angles


def random_model(config: GPTConfig, seed: int = 0) -> GPT:
    """An untrained `GPT` (in eval mode) whose weight matrices are drawn at unit scale:
    entries with variance 1 / fan_in, embedding tables with variance 1.

    GPT-2's initialisation (std 0.02) makes an untrained model's attention almost
    uniform, so differences between inputs barely show in its outputs; at this
    scale they do. Used to compare positional schemes before any training.
    """
    torch.manual_seed(seed)
    model = GPT(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                std = 1.0 if name.endswith("emb.weight") else 1.0 / math.sqrt(p.size(1))
                p.normal_(0.0, std)
    return model


# --8<-- [start:shift]
def sinusoidal_shift(k: int, dim: int) -> torch.Tensor:
    """The (dim, dim) matrix M_k with PE[p + k] = M_k @ PE[p] for every position p.

    Each (sin, cos) pair of frequency w turns by the angle k * w:
    sin(a + kw) = cos(kw) sin(a) + sin(kw) cos(a),
    cos(a + kw) = -sin(kw) sin(a) + cos(kw) cos(a).  (dim must be even.)
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    inv_freq = 10_000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    c, s = torch.cos(k * inv_freq), torch.sin(k * inv_freq)
    M = torch.zeros(dim, dim, dtype=torch.float64)
    M[0::2, 0::2], M[0::2, 1::2] = torch.diag(c), torch.diag(s)  # new sin
    M[1::2, 0::2], M[1::2, 1::2] = torch.diag(-s), torch.diag(c)  # new cos
    return M.float()


# --8<-- [end:shift]


def rope_at(x: torch.Tensor, position: int, theta: float = 10_000.0) -> torch.Tensor:
    """One vector x (head_dim,) rotated as RoPE rotates it at `position`: (head_dim,)."""
    cos, sin = rope_angles(position + 1, x.numel(), theta)
    return apply_rope(x.view(1, 1, 1, -1), cos[position:], sin[position:]).flatten()


# --8<-- [start:rope_offset]
def rope_scores_by_offset(
    q: torch.Tensor,
    k: torch.Tensor,
    n_offsets: int,
    start: int = 0,
    theta: float = 10_000.0,
) -> torch.Tensor:
    """q . k after RoPE, with k at position `start` and q at start + 0, 1, ..., n_offsets - 1.

    q, k: (head_dim,). Returns (n_offsets,). The article's claim is that the
    result does not depend on `start`: only the offset between q and k matters.
    """
    cos, sin = rope_angles(start + n_offsets, q.numel(), theta)
    qs = apply_rope(q.expand(1, 1, start + n_offsets, -1), cos, sin)[0, 0, start:]  # (n, hd)
    k_rot = apply_rope(k.expand(1, 1, start + 1, -1), cos[: start + 1], sin[: start + 1])[
        0, 0, start
    ]
    return qs @ k_rot


# --8<-- [end:rope_offset]


# --8<-- [start:rope_interleaved]
def apply_rope_interleaved(x: torch.Tensor, theta: float = 10_000.0) -> torch.Tensor:
    """RoPE in the layout of the paper and of Meta's Llama code: x (B, H, T, hd).

    Adjacent dimensions (0, 1), (2, 3), ... form the pairs; each pair is read as
    a complex number and multiplied by e^(i p w) at position p.
    """
    T, hd = x.shape[-2:]
    inv_freq = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # (hd/2,)
    angles = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)  # (T, hd/2)
    turn = torch.polar(torch.ones_like(angles), angles)  # e^(i p w)
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], hd // 2, 2))  # (..., T, hd/2)
    return torch.view_as_real(pairs * turn).flatten(-2).type_as(x)


def interleaved_to_halves(head_dim: int) -> torch.Tensor:
    """The permutation [0, 2, 4, ..., 1, 3, 5, ...] of a head's dimensions.

    x[..., perm] moves the interleaved pair (2i, 2i + 1) to (i, i + head_dim/2),
    the pair that `apply_rope` (rotate-half, Hugging Face's layout) rotates.
    """
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])


# --8<-- [end:rope_interleaved]


def alibi_weights_without_content(n_head: int, n_positions: int) -> torch.Tensor:
    """Each ALiBi head's attention from the last of n_positions queries when every
    q . k is equal, so that only the bias decides: (n_head, n_positions), index j = key j.

    This is softmax of the last row of `alibi_bias(n_head, n_positions)`, computed
    without building the (H, T, T) matrix.
    """
    distance = torch.arange(n_positions - 1, -1, -1, dtype=torch.float32)  # key j: T - 1 - j
    return torch.softmax(-alibi_slopes(n_head)[:, None] * distance, dim=-1)


def mass_beyond(weights: torch.Tensor, distance: int) -> torch.Tensor:
    """The attention (H, T) that the last query puts on keys more than `distance` back: (H,)."""
    T = weights.size(-1)
    back = torch.arange(T - 1, -1, -1)  # distance of key j: T - 1 - j
    return weights[..., back > distance].sum(-1)
