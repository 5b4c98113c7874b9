"""What the 1/sqrt(d_k) in attention is for, measured.

Dot products of random d_k-dimensional vectors grow with d_k; fed to a softmax
unscaled, they make it nearly one-hot, and a nearly one-hot softmax passes
almost no gradient back. The functions here measure each step of that chain on
random queries and keys whose components have mean 0 and variance 1.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

Scale = Literal["none", "sqrt", "d_k"]


# --8<-- [start:dot_products]
def dot_products(d_k: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n,) dot products q . k of independent q, k ~ N(0, I) in d_k dimensions."""
    q = torch.randn(n, d_k, generator=generator, dtype=torch.float64)
    k = torch.randn(n, d_k, generator=generator, dtype=torch.float64)
    return (q * k).sum(-1)


# --8<-- [end:dot_products]


def scaled_logits(
    d_k: int, n_queries: int, n_keys: int, scale: Scale, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n_queries, n_keys) attention logits q . k / c for random unit-variance q, k,
    with c = 1 ("none"), sqrt(d_k) ("sqrt", what attention uses) or d_k ("d_k")."""
    divisor = {"none": 1.0, "sqrt": math.sqrt(d_k), "d_k": float(d_k)}[scale]
    q = torch.randn(n_queries, d_k, generator=generator)
    k = torch.randn(n_keys, d_k, generator=generator)
    return q @ k.T / divisor


# --8<-- [start:saturation]
def softmax_entropy(weights: torch.Tensor) -> torch.Tensor:
    """(..., S) probability rows -> (...,) entropy in nats (0 for one-hot, log S for uniform)."""
    return -(weights * weights.clamp_min(1e-30).log()).sum(-1)


def softmax_gradient_norm(
    logits: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(N, S) logits -> (N,): the norm of the gradient a softmax passes back to its
    logits when a random gradient u ~ N(0, I) arrives at its output.

    Autograd computes J^T u with J = diag(p) - p p^T, the softmax's Jacobian; the
    mean of its squared norm over u is ||J||_F^2, which is 0 for a one-hot p.
    """
    z = logits.detach().clone().requires_grad_(True)
    p = torch.softmax(z, dim=-1)
    u = torch.randn(p.shape, generator=generator, dtype=p.dtype)
    (grad,) = torch.autograd.grad((p * u).sum(), z)  # J^T u, one row per softmax
    return grad.norm(dim=-1)


# --8<-- [end:saturation]


class Saturation(NamedTuple):
    """Summaries over the query rows of one batch of logits."""

    max_weight: float  # mean of each row's largest weight (1 = one-hot)
    one_hot_share: float  # share of rows whose largest weight exceeds 0.99
    entropy: float  # mean entropy, nats
    grad_norm: float  # median of softmax_gradient_norm over the rows


def saturation(logits: torch.Tensor, generator: torch.Generator | None = None) -> Saturation:
    """How one-hot the softmax of (N, S) logits is, and how much gradient it passes."""
    p = torch.softmax(logits, dim=-1)
    top = p.max(-1).values
    return Saturation(
        max_weight=top.mean().item(),
        one_hot_share=(top > 0.99).double().mean().item(),
        entropy=softmax_entropy(p).mean().item(),
        grad_norm=softmax_gradient_norm(logits, generator).median().item(),
    )
