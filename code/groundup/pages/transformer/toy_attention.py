"""Attention layers with hand-set weights, each doing one job you can read off.

The inputs are toy embeddings. The vector for token t at position p has two
slots of `width` entries each, a *token slot* holding one_hot(t) and a
*position slot* holding one_hot(p), so d_model = 2 * width:

    x_p = [ one_hot(t) | one_hot(p) ]                                   (2 * width,)

With inputs this plain, a projection W_Q, W_K or W_V is just a choice of which
slot to read and where to put it, so a head's job can be written down directly.
The heads are real `MultiHeadAttention` layers (the model's own class), with
weights copied in by `hand_set_attention`.

Weights use nn.Linear's layout, (out, in): a head's query is q = W_q x, that is
Q = X W_q^T for a whole sequence X (T, d_model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from groundup.model.attention import MultiHeadAttention
from groundup.model.config import GPTConfig


class Head(NamedTuple):
    """One head's projections, each (head_dim, d_model) in nn.Linear's layout."""

    w_q: torch.Tensor
    w_k: torch.Tensor
    w_v: torch.Tensor


def toy_inputs(ids: Sequence[int], width: int) -> torch.Tensor:
    """(1, T, 2 * width): row p is [one_hot(ids[p]) | one_hot(p)]."""
    T = len(ids)
    if T == 0 or T > width:
        raise ValueError(f"need 1 <= len(ids) <= width={width}, got {T} ids")
    if min(ids) < 0 or max(ids) >= width:
        raise ValueError(f"token ids must lie in [0, {width}), got {min(ids)}..{max(ids)}")
    x = torch.zeros(1, T, 2 * width)
    x[0, torch.arange(T), torch.as_tensor(list(ids))] = 1.0  # token slot
    x[0, torch.arange(T), width + torch.arange(T)] = 1.0  # position slot
    return x


# --8<-- [start:same_token_head]
def same_token_head(width: int, margin: float = 10.0) -> Head:
    """Attend to the earlier positions that hold the same token; with none, to position 0.

    Score of query i against key j, before the 1/sqrt(d_k) scaling:
        s * [token_i == token_j]   same token            (q reads the token slot)
      - s * [i == j]               ...but not itself     (q reads the position slot)
      + s/2 * [j == 0]             else the first token  (a constant: the slot sums to 1)
    The value is the key's position slot: the output says *where* the match is.
    `margin` is the gap, after scaling, between a match and the best non-match.
    """
    d = 2 * width  # head_dim = d_model
    s = 2 * margin * math.sqrt(d)
    tok, pos = slice(0, width), slice(width, d)
    w_q = torch.zeros(d, d)
    w_q[tok, tok] = s * torch.eye(width)  # "my token"
    w_q[pos, pos] = -s * torch.eye(width)  # "not my position"
    w_q[width, pos] += s / 2  # "position 0 will do"
    w_k = torch.eye(d)  # a key is the input as it is
    w_v = torch.zeros(d, d)
    w_v[pos, pos] = torch.eye(width)  # a value is the position alone
    return Head(w_q, w_k, w_v)


# --8<-- [end:same_token_head]


# --8<-- [start:previous_token]
def previous_token_head(width: int, margin: float = 10.0) -> Head:
    """Position i attends to i - 1 (position 0, with nothing before it, to itself).

    q_i = s * one_hot(i - 1), k_j = one_hot(j): the score is s where j = i - 1.
    The value is the key's token: the output at i is the token before it.
    """
    s = margin * math.sqrt(width)  # head_dim = width
    tok, pos = slice(0, width), slice(width, 2 * width)
    w_q, w_k, w_v = (torch.zeros(width, 2 * width) for _ in range(3))
    w_q[:, pos] = s * torch.diag(torch.ones(width - 1), 1)  # row i - 1 reads position i
    w_k[:, pos] = torch.eye(width)
    w_v[:, tok] = torch.eye(width)
    return Head(w_q, w_k, w_v)


# --8<-- [end:previous_token]


# --8<-- [start:first_token]
def first_token_head(width: int, margin: float = 10.0) -> Head:
    """Every position attends to position 0; the output is the first token.

    q_i = (s, 0, ..., 0) for every i (the position slot sums to 1),
    k_j = ([j == 0], 0, ..., 0): the score is s for j = 0 and 0 elsewhere.
    """
    s = margin * math.sqrt(width)
    tok, pos = slice(0, width), slice(width, 2 * width)
    w_q, w_k, w_v = (torch.zeros(width, 2 * width) for _ in range(3))
    w_q[0, pos] = s
    w_k[0, width] = 1.0
    w_v[:, tok] = torch.eye(width)
    return Head(w_q, w_k, w_v)


# --8<-- [end:first_token]


# --8<-- [start:hand_set]
def hand_set_attention(heads: Sequence[Head]) -> MultiHeadAttention:
    """A real MultiHeadAttention layer whose heads use the given projections.

    The output projection is the identity, so the layer's output (B, T, d_model)
    is the heads' outputs side by side: head h fills entries h*hd .. (h+1)*hd - 1.
    """
    head_dim, d_model = heads[0].w_q.shape
    if len(heads) * head_dim != d_model:
        raise ValueError(f"{len(heads)} heads of {head_dim} must fill d_model={d_model}")
    config = GPTConfig(
        d_model=d_model, n_head=len(heads), head_dim=head_dim, bias=False, attention="explicit"
    )
    attn = MultiHeadAttention(config).eval()
    with torch.no_grad():
        attn.qkv.weight.copy_(
            torch.cat([h.w_q for h in heads] + [h.w_k for h in heads] + [h.w_v for h in heads])
        )
        attn.proj.weight.copy_(torch.eye(d_model))
    return attn


# --8<-- [end:hand_set]


# ---------------------------------------------------------------- the jobs, as plain Python
def earlier_occurrences(ids: Sequence[int]) -> list[list[int]]:
    """For each position, the earlier positions holding the same id, else [0]."""
    return [[j for j in range(i) if ids[j] == ids[i]] or [0] for i in range(len(ids))]


def previous_positions(T: int) -> list[list[int]]:
    """For each position, the one before it (position 0: itself)."""
    return [[max(i - 1, 0)] for i in range(T)]


def first_positions(T: int) -> list[list[int]]:
    """For each position, position 0."""
    return [[0] for _ in range(T)]


def mass_on(weights: torch.Tensor, targets: Sequence[Sequence[int]]) -> torch.Tensor:
    """weights (T, S) -> (T,): the attention row i puts on the positions targets[i]."""
    mask = torch.zeros_like(weights, dtype=torch.bool)
    for i, js in enumerate(targets):
        mask[i, list(js)] = True
    return (weights * mask).sum(-1)
