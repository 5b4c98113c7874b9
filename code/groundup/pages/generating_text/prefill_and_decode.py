"""Prefill, decode and the context window, measured: the cost of one pass against
the number of tokens it reads, the time of a decode step against the context length
with and without the KV cache, the cost of attention against the weights at every
context length, and what `Decoder` does when the window is full, for the "Prefill,
decode and the context window" page.

The timings drive `groundup.inference.Decoder`, the loop every generator here uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from groundup.inference import Decoder
from groundup.model import GPT, GPTConfig
from groundup.pages.generating_text.diagrams import Diagram, legend_width
from groundup.pages.transformer.timing import best_time, one_thread


# --8<-- [start:pass_seconds]
def pass_seconds(
    model: GPT, context: int, new: int, use_cache: bool = True, repeats: int = 7
) -> float:
    """The time of one `Decoder.feed` of `new` tokens after `context` tokens already fed
    (best of `repeats`, one thread). context=0 is a prefill of `new` tokens; new=1 after
    a context is one decode step. After every timed feed the decoder is rewound, so each
    repeat sees the same context."""
    if context + new > model.config.block_size:
        raise ValueError(
            f"context + new = {context + new} exceeds block_size: the window would slide"
        )
    ids = torch.randint(model.config.vocab_size, (1, context + new))
    decoder = Decoder(model, 1, use_cache=use_cache, capacity=context + new)
    if context:
        decoder.feed(ids[:, :context])
    tokens = ids[:, context:]

    def one_feed() -> None:
        decoder.feed(tokens)
        decoder.rewind(new)

    with one_thread():
        return best_time(one_feed, repeats)


# --8<-- [end:pass_seconds]


# --8<-- [start:flops]
def flops_per_token(config: GPTConfig, context: int) -> tuple[int, int]:
    """(weight FLOPs, attention FLOPs) of one token at position `context` in a forward
    pass: 2 per weight of every matrix product (multiply and add), and 2 x 2 x context
    x head_dim per head and layer for q.K^T and for the weighted sum of the values."""
    d, L = config.d_model, config.n_layer
    q = config.n_head * config.dim_per_head  # width of the queries (and of W_o's input)
    kv = config.kv_heads * config.dim_per_head  # width of K and of V
    attn_weights = 2 * d * q + 2 * d * kv  # W_q, W_o, W_k, W_v
    mlp_matrices = {"swiglu": 3, "gelu": 2, "none": 0}[config.mlp]
    mlp_weights = mlp_matrices * d * config.hidden_size
    head = config.vocab_size * d
    weight_flops = 2 * (L * (attn_weights + mlp_weights) + head)
    attention_flops = 2 * 2 * L * config.n_head * config.dim_per_head * context
    return weight_flops, attention_flops


def attention_crossover(config: GPTConfig) -> int:
    """The first context length at which a token's attention FLOPs exceed its weight
    FLOPs."""
    weights, per_position = flops_per_token(config, 1)
    return weights // per_position + 1


# --8<-- [end:flops]


@torch.inference_mode()
def matmul_seconds(rows: int, size: int = 4096, repeats: int = 5, seed: int = 0) -> float:
    """Best time of x (rows, size) @ W (size, size) in float32 on one thread: W is
    size^2 x 4 bytes (64 MiB at 4096, more than this machine's caches), read in full
    whatever the number of rows."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(size, size, generator=g)
    x = torch.randn(rows, size, generator=g)
    with one_thread():
        return best_time(lambda: x @ W, repeats)


@dataclass(frozen=True)
class Step:
    """One decode step of a long greedy run: the window it saw and what it cost."""

    window: int  # tokens in the window after this step's feed
    reread: bool  # the window slid: the whole kept window was read again
    seconds: float


# --8<-- [start:long_run]
@torch.inference_mode()
def long_run(model: GPT, prompt: list[int], steps: int) -> list[Step]:
    """Greedy decoding with a KV cache for `steps` tokens, past the end of the context:
    each step's window length after its feed, whether the window slid (the cache was
    refilled from scratch), and the step's wall time."""
    decoder = Decoder(model, 1, use_cache=True)
    logits = decoder.feed(torch.tensor([prompt]))[:, -1]
    cache = decoder.cache
    assert cache is not None
    record = []
    with one_thread():
        for _ in range(steps):
            next_id = logits.argmax(dim=-1, keepdim=True)  # (1, 1)
            before = cache.length
            start = time.perf_counter()
            logits = decoder.feed(next_id)[:, -1]
            seconds = time.perf_counter() - start
            record.append(Step(decoder.ids.size(1), cache.length <= before, seconds))
    return record


# --8<-- [end:long_run]


def passes_diagram(prompt_tokens: int, new_tokens: int) -> Diagram:
    """The prefill as one pass over every prompt token, then one pass per new token."""
    cell, left, top = 30, 90, 30
    entries = [
        ("accent", "read by this pass"),
        ("muted", "keys and values in the cache"),
        ("empty", "the distribution it returns"),
    ]
    width = int(left + max((prompt_tokens + new_tokens + 1) * cell, legend_width(entries)) + 10)
    d = Diagram(
        width,
        top + (new_tokens + 1) * 36 + 30,
        title="Prefill reads the whole prompt in one pass; each decode step reads one token",
        description=(
            f"Row 1, the prefill: all {prompt_tokens} prompt tokens go through the model "
            f"together in one forward pass, which returns the distribution of the first new "
            f"token. Rows 2 to {new_tokens + 1}, the decode steps: each runs one forward pass "
            f"on the single token chosen last, reading the earlier tokens' keys and values "
            f"from the KV cache, and returns the distribution of the next one. Prompt "
            f"tokens are labelled p1 to p{prompt_tokens}, new ones n1 to n{new_tokens}."
        ),
    )
    for r in range(new_tokens + 1):
        y = top + r * 36
        d.text(left - 10, y + 14, "prefill" if r == 0 else f"decode {r}", anchor="end", size=12)
        known = prompt_tokens + r
        for i in range(known + 1):
            x = left + i * cell
            if i == known:  # the distribution this pass returns
                d.box(x, y, cell - 4, 28, "?", fill="none", dashed=True)
            else:  # read by this pass, or already in the cache
                name = f"p{i + 1}" if i < prompt_tokens else f"n{i - prompt_tokens + 1}"
                fill = "accent" if r == 0 or i == known - 1 else "muted"
                d.box(x, y, cell - 4, 28, name, fill=fill, size=11)
    legend = top + (new_tokens + 1) * 36 + 12
    return d.legend(left, legend, entries)
