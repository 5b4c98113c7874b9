"""Token embeddings: an id picks one row of E (V, d_model). What that costs, how the
rows learn, and how to look at their geometry.

`nn.Embedding` (which `GPT` uses as `tok_emb`) is exactly `embed` below; the
other functions are the measurements the embeddings article makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from groundup.model.config import GPTConfig


# --8<-- [start:lookup]
def embed(ids: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Look up token ids (B, T) in the embedding matrix E (V, C): (B, T, C).

    Position (b, t) gets row ids[b, t] of E. This is all `nn.Embedding` does.
    """
    return E[ids]


def embed_one_hot(ids: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """The same lookup as a matrix product: one-hot rows (B, T, V) @ E (V, C) -> (B, T, C)."""
    one_hot = F.one_hot(ids, num_classes=E.size(0)).to(E.dtype)  # a single 1 per row
    return one_hot @ E


# --8<-- [end:lookup]


# --8<-- [start:cost]
def embedding_parameters(config: GPTConfig) -> int:
    """Parameters spent on token ids: V * d_model for the input embedding, and as
    many again for the output head unless the two share one matrix (tied)."""
    per_matrix = config.vocab_size * config.d_model
    return per_matrix if config.tie_weights else 2 * per_matrix


# --8<-- [end:cost]


# --8<-- [start:grad_rows]
def rows_with_gradient(grad: torch.Tensor) -> list[int]:
    """The ids whose row of an embedding gradient (V, C) is not all zeros, sorted."""
    return grad.ne(0).any(dim=1).nonzero().flatten().tolist()


# --8<-- [end:grad_rows]


def rows_changed(before: torch.Tensor, after: torch.Tensor) -> list[int]:
    """The ids whose row differs between two copies of an embedding matrix (V, C)."""
    return before.ne(after).any(dim=1).nonzero().flatten().tolist()


def rows_moved_by_second_step(
    make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
    vocab_size: int,
    dim: int,
    first: torch.Tensor,
    second: torch.Tensor,
    seed: int = 0,
) -> list[int]:
    """Take one optimizer step on the ids `first`, then one on `second`; return
    the rows of the embedding that the second step changed.

    Each step's loss is the sum of the looked-up vectors' entries, so every id in
    the batch gets a non-zero gradient and no other id gets any.
    """
    torch.manual_seed(seed)
    table = nn.Embedding(vocab_size, dim)
    opt = make_optimizer(table.parameters())
    for batch in (first, second):
        before = table.weight.detach().clone()
        opt.zero_grad()
        table(batch).sum().backward()
        opt.step()
    return rows_changed(before, table.weight.detach())


# --8<-- [start:geometry]
def cosine_similarity(E: torch.Tensor, i: int) -> torch.Tensor:
    """cos(E_i, E_j) for every row j of E (V, C): (V,), each in [-1, 1]."""
    unit = F.normalize(E, dim=-1)  # every row scaled to length 1
    return unit @ unit[i]


def nearest(E: torch.Tensor, i: int, k: int = 5) -> list[tuple[int, float]]:
    """The k rows most similar to row i by cosine (row i itself left out)."""
    sims = cosine_similarity(E, i)
    sims[i] = float("-inf")
    top = sims.topk(k)
    return list(zip(top.indices.tolist(), top.values.tolist()))


# --8<-- [end:geometry]


def pca_2d(X: torch.Tensor) -> torch.Tensor:
    """Project the rows of X (N, C) onto their two directions of largest variance: (N, 2).

    The signs of the two axes are fixed (largest-magnitude loading positive) so
    that a plot does not flip between runs.
    """
    centred = X - X.mean(dim=0, keepdim=True)
    _, _, Vh = torch.linalg.svd(centred, full_matrices=False)  # rows of Vh: directions
    axes = Vh[:2]
    signs = axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)).sign()
    return centred @ (axes * signs).T


def group_similarity(E: torch.Tensor, groups: dict[str, list[int]]) -> tuple[float, float]:
    """Mean cosine similarity between rows of E in the same group and in different groups.

    `groups` maps a name to row indices. Returns (within, between): a matrix whose
    rows cluster by group has within well above between.
    """
    ids = [i for members in groups.values() for i in members]
    label = torch.tensor([g for g, members in enumerate(groups.values()) for _ in members])
    unit = F.normalize(E[ids], dim=-1)
    sims = unit @ unit.T
    same = label[:, None] == label[None, :]
    off_diagonal = ~torch.eye(len(ids), dtype=torch.bool)
    return sims[same & off_diagonal].mean().item(), sims[~same].mean().item()
