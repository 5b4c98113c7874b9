"""Looking inside a `GPT` while it runs, with forward hooks.

`trace_forward` records what one forward pass computes at every stage (the
token and position embeddings, the residual stream between blocks, the final
norm, the logits) and the attention weights of every head of every layer,
without changing the model or its code: hooks are registered for one call and
removed afterwards. `head_scores` summarises attention weights as a few numbers
per head; `top_next_tokens` reads the next-token distribution off the logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from groundup.model.gpt import GPT


# --8<-- [start:trace]
@dataclass
class ForwardTrace:
    """What one forward pass of a GPT computed, stage by stage (B batch, T positions)."""

    tokens: torch.Tensor  # (B, T, C): tok_emb(idx), one row of E per id
    positions: torch.Tensor | None  # (T, C): the learned position vectors (None otherwise)
    stream: list[torch.Tensor]  # n_layer + 1 tensors (B, T, C): the residual stream
    # entering block 0, 1, ..., and leaving the last one
    attn_writes: list[torch.Tensor]  # n_layer (B, T, C): what each attention adds to it
    mlp_writes: list[torch.Tensor | None]  # n_layer (B, T, C): what each MLP adds to it
    attention: list[torch.Tensor]  # n_layer (B, H, T, T): each layer's attention weights
    final: torch.Tensor  # (B, T, C): norm_f of the last stream
    logits: torch.Tensor  # (B, T, V): one score per vocabulary entry


@torch.no_grad()
def trace_forward(model: GPT, idx: torch.Tensor) -> ForwardTrace:
    """Run model(idx) once, idx (B, T), and record every stage with forward hooks."""
    L = len(model.blocks)
    seen: dict[str, Any] = {
        "stream": [None] * (L + 1),
        "attn_writes": [None] * L,
        "mlp_writes": [None] * L,
        "attention": [None] * L,
    }

    def store(name: str, layer: int | None, value: torch.Tensor) -> None:
        if layer is None:
            seen[name] = value
        else:
            seen[name][layer] = value

    def output_of(name: str, layer: int | None = None) -> Callable[..., None]:
        return lambda module, args, output: store(name, layer, output)

    def input_of(name: str, layer: int | None = None) -> Callable[..., None]:
        return lambda module, args: store(name, layer, args[0])

    def weights_of(
        layer: int,
    ) -> Callable[..., None]:  # block.attn is called as attn(x, rope, mask, cache)
        return lambda attn, args: store("attention", layer, attn.attention_weights(*args[:3]))

    hooks = [
        model.tok_emb.register_forward_hook(output_of("tokens")),
        model.norm_f.register_forward_pre_hook(input_of("stream", L)),
        model.norm_f.register_forward_hook(output_of("final")),
    ]
    if hasattr(model, "pos_emb"):
        hooks.append(model.pos_emb.register_forward_hook(output_of("positions")))
    for layer, block in enumerate(model.layers):
        hooks += [
            block.register_forward_pre_hook(input_of("stream", layer)),
            block.attn.register_forward_pre_hook(weights_of(layer)),
            block.attn.register_forward_hook(output_of("attn_writes", layer)),
        ]
        if block.mlp is not None:
            hooks.append(block.mlp.register_forward_hook(output_of("mlp_writes", layer)))
    try:
        logits, _ = model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return ForwardTrace(
        seen["tokens"],
        seen.get("positions"),
        seen["stream"],
        seen["attn_writes"],
        seen["mlp_writes"],
        seen["attention"],
        seen["final"],
        logits,
    )


# --8<-- [end:trace]


# --8<-- [start:top_next]
def top_next_tokens(logits: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """The k most likely next ids after the last position, with their probabilities.

    logits: (T, V) or (V,) for one sequence; the distribution is softmax over the
    vocabulary of the last row. Returns [(id, probability), ...], most likely first.
    """
    probs = torch.softmax(logits.reshape(-1, logits.size(-1))[-1].float(), dim=-1)  # (V,)
    top = torch.topk(probs, k)
    return list(zip(top.indices.tolist(), top.values.tolist()))


# --8<-- [end:top_next]


# --8<-- [start:head_scores]
@dataclass(frozen=True)
class HeadScores:
    """Average attention of each head (H,) to three fixed places, and to its top key."""

    previous: torch.Tensor  # weight on key i - 1, the token just before
    first: torch.Tensor  # weight on key 0, the first token of the window
    itself: torch.Tensor  # weight on key i, the query's own position
    peak: torch.Tensor  # the largest weight of the row, wherever it is
    even: float  # what each of these would be if every row were spread evenly


def head_scores(weights: torch.Tensor, start: int = 2) -> HeadScores:
    """Summarise one layer's attention weights (B, H, T, T) as per-head averages (H,).

    Every query i >= start counts once, over all B sequences. From query 2 on,
    the previous, first and own positions are three different keys; query i of a
    causal head can see i + 1 keys, so an even spread gives each of them 1 / (i + 1).
    """
    T = weights.size(-1)
    if weights.dim() != 4 or weights.size(-2) != T or not 0 <= start < T:
        raise ValueError(
            f"weights must be (B, H, T, T) with T > start={start}, got {tuple(weights.shape)}"
        )
    i = torch.arange(start, T)
    rows = weights[:, :, start:, :]  # (B, H, T - start, T)
    return HeadScores(
        previous=weights[:, :, i, i - 1].mean(dim=(0, 2)),
        first=rows[..., 0].mean(dim=(0, 2)),
        itself=weights[:, :, i, i].mean(dim=(0, 2)),
        peak=rows.amax(dim=-1).mean(dim=(0, 2)),
        even=(1.0 / (i + 1).double()).mean().item(),
    )


# --8<-- [end:head_scores]


def windows(ids: torch.Tensor, size: int, count: int | None = None) -> torch.Tensor:
    """Cut a token stream ids (N,) into consecutive windows (count, size), dropping the rest."""
    n = ids.numel() // size if count is None else count
    if n < 1 or n * size > ids.numel():
        raise ValueError(f"{ids.numel()} ids do not make {n} windows of {size}")
    return ids[: n * size].reshape(n, size)
