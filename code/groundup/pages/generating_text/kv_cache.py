"""The KV cache, measured: cached against uncached logits, the cache's bytes against
the formula, what grouped-query and multi-query attention save on published shapes,
the speedup on the site model, and a drawing of the cache filling up, for the
"The KV cache" page.

Everything here drives `groundup.inference` (`Decoder`, `KVCache`, `generate`);
nothing re-implements the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from groundup.inference import Decoder, KVCache, generate
from groundup.model import GPT, GPTConfig
from groundup.pages.generating_text.diagrams import Diagram
from groundup.pages.transformer.timing import best_time, one_thread

TOLERANCE = 1e-5
"""How far a cached logit may be from the uncached one: the library's tests use it too."""


# --8<-- [start:exactness]
@torch.inference_mode()
def cached_vs_uncached(model: GPT, prompt: list[int], new_tokens: int) -> list[float]:
    """Decode greedily with two `Decoder`s fed the same tokens, one with a KV cache and
    one that reruns the whole window at every step. Returns, for the prefill and each
    decode step, the largest |cached - uncached| over the vocabulary's logits
    (1 + new_tokens values). prompt + new_tokens must fit the context (no sliding)."""
    if len(prompt) + new_tokens > model.config.block_size:
        raise ValueError("prompt + new_tokens must fit in block_size: the window would slide")
    cached = Decoder(model, 1, use_cache=True, capacity=len(prompt) + new_tokens)
    uncached = Decoder(model, 1, use_cache=False)
    ids = torch.tensor([prompt])  # (1, T)
    fast, slow = cached.feed(ids)[:, -1], uncached.feed(ids)[:, -1]  # (1, V) each
    gaps = [(fast - slow).abs().max().item()]
    for _ in range(new_tokens):
        next_id = slow.argmax(dim=-1, keepdim=True)  # (1, 1): both decoders get this token
        fast, slow = cached.feed(next_id)[:, -1], uncached.feed(next_id)[:, -1]
        gaps.append((fast - slow).abs().max().item())
    return gaps


# --8<-- [end:exactness]


# --8<-- [start:formula]
def formula_bytes(config: GPTConfig, batch: int, tokens: int, bytes_per_number: int) -> int:
    """2 (a key and a value) x layers x kv_heads x head_dim x tokens x bytes, per row."""
    per_token = 2 * config.n_layer * config.kv_heads * config.dim_per_head * bytes_per_number
    return batch * tokens * per_token


def allocated_bytes(
    config: GPTConfig, batch: int, tokens: int, dtype: torch.dtype, device: str = "cpu"
) -> int:
    """What a real `KVCache` of `batch` rows and `tokens` slots holds (KVCache.nbytes).
    On device="meta" its tensors have shapes but no memory, so that a 70B model's
    cache can be measured on a laptop."""
    if tokens > config.block_size:  # a what-if context longer than the config's own
        config = config.replace(block_size=tokens)
    return KVCache(config, batch, tokens, dtype=dtype, device=device).nbytes


# --8<-- [end:formula]


# --8<-- [start:timing]
def generation_seconds(
    model: GPT, prompt: list[int], new_tokens: int, use_cache: bool, repeats: int = 3
) -> float:
    """The best of `repeats` greedy generations of new_tokens after prompt, batch 1,
    one thread (after one untimed warm-up run)."""
    with one_thread():
        return best_time(lambda: generate(model, prompt, new_tokens, use_cache=use_cache), repeats)


# --8<-- [end:timing]


@dataclass(frozen=True)
class CacheSnapshot:
    """The cache after one `Decoder.feed`: which slots hold a token, and which are new."""

    label: str  # "prefill" or "decode 1", "decode 2", ...
    length: int  # slots filled (KVCache.length)
    new: int  # slots this feed wrote
    capacity: int  # slots allocated (KVCache.capacity)
    tokens: list[str]  # the text of the token in each filled slot, (length,)


@torch.inference_mode()
def cache_growth(
    model: GPT, prompt: list[int], steps: int, capacity: int, token_text: Callable[[int], str]
) -> list[CacheSnapshot]:
    """Prefill `prompt`, then `steps` greedy decode steps, through a `Decoder` whose cache
    has `capacity` slots; read the cache's own length after every feed.
    token_text: a token id's text (a tokenizer's decode), to label the slots."""
    decoder = Decoder(model, 1, use_cache=True, capacity=capacity)
    cache = decoder.cache
    assert cache is not None
    ids = list(prompt)
    logits = decoder.feed(torch.tensor([prompt]))[:, -1]
    snapshots: list[CacheSnapshot] = []
    for step in range(steps + 1):
        before = snapshots[-1].length if snapshots else 0
        label = "prefill" if step == 0 else f"decode {step}"
        snapshots.append(
            CacheSnapshot(
                label,
                cache.length,
                cache.length - before,
                cache.capacity,
                [token_text(i) for i in ids],
            )
        )
        if step < steps:
            next_id = int(logits.argmax(dim=-1))
            ids.append(next_id)
            logits = decoder.feed(torch.tensor([[next_id]]))[:, -1]
    return snapshots


def cache_growth_diagram(snapshots: list[CacheSnapshot]) -> Diagram:
    """One row of slots per snapshot: kept slots, the slots this step wrote, and the
    allocated but still empty ones (dashed)."""
    capacity = snapshots[0].capacity
    cell, left, top, row = 46, 78, 34, 34
    width, height = left + capacity * cell + 10, top + len(snapshots) * row + 34
    d = Diagram(
        width,
        height,
        title="The KV cache filling up, one decode step at a time",
        description=(
            f"A cache of {capacity} slots is allocated once. The prefill writes the "
            f"{snapshots[0].length} prompt tokens into slots 0 to {snapshots[0].length - 1}; "
            f"each of the {len(snapshots) - 1} decode steps writes one more slot, after the "
            f"kept ones, until {snapshots[-1].length} are filled and "
            f"{capacity - snapshots[-1].length} stay empty."
        ),
    )
    for slot in range(capacity):
        d.text(left + slot * cell + cell / 2, top - 12, str(slot), size=11, muted=True)
    for r, snap in enumerate(snapshots):
        y = top + r * row
        d.text(left - 8, y + row / 2 - 2, snap.label, size=12, anchor="end")
        for slot in range(capacity):
            x = left + slot * cell
            if slot < snap.length - snap.new:
                d.box(x, y, cell - 4, row - 6, fill="primary")
            elif slot < snap.length:
                d.box(x, y, cell - 4, row - 6, fill="accent")
            else:
                d.box(x, y, cell - 4, row - 6, fill="none", dashed=True)
            if slot < snap.length:
                label = snap.tokens[slot].replace(" ", "·").replace("\n", "⏎")[:6]
                d.text(x + cell / 2 - 2, y + row / 2 - 3, label, size=10, mono=True)
    legend = top + len(snapshots) * row + 14
    entries = [("primary", "kept"), ("accent", "written this step"), ("empty", "allocated, empty")]
    return d.legend(left, legend, entries)
