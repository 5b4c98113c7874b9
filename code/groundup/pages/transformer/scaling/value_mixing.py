"""The @V step of attention: every output is a convex combination of the values."""

from __future__ import annotations

import math

import torch


def hull_overshoot(points: torch.Tensor, values: torch.Tensor, n_directions: int = 720) -> float:
    """How far `points` (N, 2) reach beyond the convex hull of `values` (S, 2).

    A point lies in the convex hull of the values exactly when, in every
    direction u, it reaches no further than the furthest value: u . p <= max_j u . v_j.
    Returns the largest u . p - max_j u . v_j over n_directions unit vectors u
    (<= 0 when every point is inside, up to rounding).
    """
    angles = torch.arange(n_directions, dtype=points.dtype) * (2 * math.pi / n_directions)
    u = torch.stack([angles.cos(), angles.sin()], dim=-1)  # (D, 2)
    reach = (points @ u.T).max(0).values  # (D,)
    limit = (values @ u.T).max(0).values  # (D,)
    return (reach - limit).max().item()


def polygon(n: int, radius: float = 1.0) -> torch.Tensor:
    """(n, 2): the corners of a regular n-gon, counter-clockwise from (0, radius)."""
    angles = math.pi / 2 + torch.arange(n) * (2 * math.pi / n)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=-1)
