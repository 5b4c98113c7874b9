"""Serving many users, measured and simulated, for the "Serving many users" page:
batched generation against one prompt at a time (same tokens, more tokens per second),
the slots that static batching wastes, a small simulation of KV memory reserved per
request against fixed-size pages, and the site model with weight-only int8 weights.

Generation and quantization call `groundup.inference`; the schedulers below are toy
simulations of a server (token counts only, no model), drawn from seeded request lengths.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass

import torch

import groundup.inference.quantize
import groundup.train.heldout
from groundup import site
from groundup.cache import cached_json
from groundup.inference import generate
from groundup.inference.quantize import Int8Linear, dequantize_int8
from groundup.model import GPT
from groundup.pages.generating_text.diagrams import Diagram
from groundup.pages.transformer.timing import best_time, one_thread
from groundup.train import open_tokens
from groundup.train.heldout import heldout_loss


# --------------------------------------------------------------------------- batching
def prompts_from(ids: list[int], n: int, shortest: int, longest: int, seed: int) -> list[list[int]]:
    """n prompts cut from a token list at seeded random places, shortest..longest tokens
    each (so that a batch of them needs padding)."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(n):
        length = rng.randint(shortest, longest)
        start = rng.randrange(len(ids) - length)
        prompts.append(ids[start : start + length])
    return prompts


# --8<-- [start:serve]
def serve(
    model: GPT, prompts: list[list[int]], batch_size: int, new_tokens: int
) -> list[list[int]]:
    """Greedy continuations of every prompt, new_tokens each, generated batch_size
    prompts at a time (each batch left-padded to its longest prompt by `generate`)."""
    out = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        ids = generate(model, batch, new_tokens)  # (b, T + new_tokens)
        out += ids[:, -new_tokens:].tolist()
    return out


def timed_serve(
    model: GPT, prompts: list[list[int]], batch_size: int, new_tokens: int, repeats: int = 2
) -> tuple[list[list[int]], float]:
    """`serve`'s continuations, and the new tokens it generates per second: the best of
    `repeats` timed runs after the untimed one that gave the continuations, one thread."""
    with one_thread():
        out = serve(model, prompts, batch_size, new_tokens)
        seconds = best_time(lambda: serve(model, prompts, batch_size, new_tokens), repeats, 0)
    return out, len(prompts) * new_tokens / seconds


# --8<-- [end:serve]


# --------------------------------------------------------------------------- scheduling
# --8<-- [start:schedules]
def static_schedule(lengths: list[int], slots: int) -> list[list[int | None]]:
    """Static batching: requests go in groups of `slots`, and a group runs until its
    longest request is done. Returns one row per step, (steps, slots): the request a slot
    generates for at that step, or None when the slot computes padding for a finished row."""
    timeline: list[list[int | None]] = []
    for start in range(0, len(lengths), slots):
        group = range(start, min(start + slots, len(lengths)))
        for t in range(max(lengths[i] for i in group)):
            row = [i if t < lengths[i] else None for i in group]
            timeline.append(row + [None] * (slots - len(row)))
    return timeline


def continuous_schedule(lengths: list[int], slots: int) -> list[list[int | None]]:
    """Continuous (iteration-level) batching: a slot freed by a finished request takes
    the next waiting one at the very next step. Same layout as `static_schedule`."""
    waiting = list(range(len(lengths)))
    running: list[int | None] = [None] * slots
    left = list(lengths)
    timeline: list[list[int | None]] = []
    while waiting or any(r is not None for r in running):
        running = [waiting.pop(0) if r is None and waiting else r for r in running]
        timeline.append(list(running))
        for s, r in enumerate(running):
            if r is not None:
                left[r] -= 1
                running[s] = None if left[r] == 0 else r
    return timeline


def busy_share(timeline: list[list[int | None]]) -> float:
    """The share of slot-steps that generated a token someone asked for."""
    cells = [cell for row in timeline for cell in row]
    return sum(cell is not None for cell in cells) / len(cells)


# --8<-- [end:schedules]


def draw_requests(n: int, seed: int, max_new: int = 512) -> tuple[list[int], list[int]]:
    """n (prompt length, output length) pairs: prompts uniform in 16..256 tokens, outputs
    exponential with mean 128, cut to 1..max_new (most answers short, a few long)."""
    rng = random.Random(seed)
    prompts = [rng.randint(16, 256) for _ in range(n)]
    outputs = [min(max_new, max(1, round(rng.expovariate(1 / 128)))) for _ in range(n)]
    return prompts, outputs


# --8<-- [start:memory]
@dataclass(frozen=True)
class MemoryRun:
    """One simulated server run over the same requests."""

    steps: int  # decode steps until every request was served
    mean_running: float  # requests decoding at once, on average over the steps
    stored_share: float  # share of the KV budget holding real tokens, on average
    preemptions: int  # requests evicted (and later restarted) for lack of pages


def simulate_memory(
    prompts: list[int], outputs: list[int], budget: int, max_new: int, page_size: int | None
) -> MemoryRun:
    """Continuous batching under a KV memory budget of `budget` token slots.

    page_size None: each request reserves prompt + max_new slots when it starts (the
    server cannot know how long the answer will be), as one preallocated `KVCache` row
    does; a request waits until that much is free (generously, free slots count even if
    not adjacent). page_size p: memory is pages of p slots, handed out as a request grows;
    when none is free, the request admitted last is evicted and restarted later (vLLM's
    recompute policy)."""
    limit = budget if page_size is None else budget // page_size  # slots, or pages
    usable = budget if page_size is None else limit * page_size
    if max(outputs) > max_new or max(prompts) + max_new > usable:
        raise ValueError(
            f"every request must fit: outputs <= {max_new}, prompt + {max_new} <= {usable}"
        )
    waiting, running = list(range(len(prompts))), list[int]()
    done = [0] * len(prompts)  # tokens generated so far, per request
    steps, running_sum, stored_sum, preemptions = 0, 0, 0.0, 0

    def need(i: int) -> int:  # slots (or pages) request i needs to take its next token
        if page_size is None:
            return prompts[i] + max_new
        return math.ceil((prompts[i] + done[i] + 1) / page_size)

    while waiting or running:
        while waiting and sum(map(need, running)) + need(waiting[0]) <= limit:
            running.append(waiting.pop(0))
        if page_size is not None:  # a request that crossed a page boundary takes a page
            while sum(map(need, running)) > limit:
                evicted = running.pop()
                done[evicted] = 0
                waiting.insert(0, evicted)
                preemptions += 1
        steps += 1
        running_sum += len(running)
        stored_sum += sum(prompts[i] + done[i] for i in running) / budget
        for i in running:
            done[i] += 1
        running = [i for i in running if done[i] < outputs[i]]
    return MemoryRun(steps, running_sum / steps, stored_sum / steps, preemptions)


# --8<-- [end:memory]


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _legend(d: Diagram, x: float, y: float, items: list[tuple[str, str, bool]]) -> None:
    """A row of small swatches (fill, label, dashed) starting at (x, y)."""
    for fill, label, dashed in items:
        d.box(x, y - 7, 14, 14, fill=fill, dashed=dashed)
        d.text(x + 20, y, label, size=12, anchor="start")
        x += 34 + 7 * len(label)


def schedule_diagram(lengths: list[int], slots: int) -> Diagram:
    """Static and continuous batching of the same requests, one grid each: a column per
    decode step, a row per batch slot, each cell the request it generates for (dashed:
    a slot computing padding, or idle)."""
    static, continuous = static_schedule(lengths, slots), continuous_schedule(lengths, slots)
    cell, left, top = 28, 60, 28
    panel = slots * cell + 44
    width = left + max(len(static), len(continuous)) * cell + 10
    d = Diagram(
        width,
        top + 2 * panel + 24,
        title="Static against continuous batching",
        description=(
            f"{len(lengths)} requests, lettered A onwards, needing "
            f"{', '.join(map(str, lengths))} decode steps, share {slots} batch slots. Static "
            f"batching runs them in groups of {slots} and takes {len(static)} steps, with "
            f"{busy_share(static):.0%} of the slot-steps doing useful work; continuous batching "
            f"gives a freed slot to the next request at once and takes {len(continuous)} steps, "
            f"{busy_share(continuous):.0%} useful."
        ),
    )
    for p, (name, timeline) in enumerate((("static", static), ("continuous", continuous))):
        y0 = top + p * panel
        d.text(left, y0 - 14, f"{name} batching: {len(timeline)} steps", size=13, anchor="start")
        for t, row in enumerate(timeline):
            for s, r in enumerate(row):
                x, y = left + t * cell, y0 + s * cell
                if r is None:
                    d.box(x, y, cell - 3, cell - 3, fill="none", dashed=True)
                else:
                    fill = "primary" if r % 2 else "accent"
                    d.box(x, y, cell - 3, cell - 3, LETTERS[r], fill=fill, size=12)
        for s in range(slots):
            d.text(
                left - 8,
                y0 + s * cell + cell / 2 - 1,
                f"slot {s}",
                size=11,
                anchor="end",
                muted=True,
            )
    _legend(
        d,
        left,
        top + 2 * panel,
        [("accent", "a request decoding", False), ("none", "padding or idle", True)],
    )
    return d


def page_assignment(prompts: list[int], steps: int, page_size: int) -> list[tuple[int, int]]:
    """Pages handed out in order as the requests prefill their prompts, then decode
    `steps` tokens each in lockstep: (request, slots used) per page, in page order."""
    pages: list[list[int]] = []  # [request, used]
    last: dict[int, int] = {}  # request -> index of its last page
    for step in range(steps + 1):
        for r, prompt in enumerate(prompts):
            for _ in range(prompt if step == 0 else 1):
                if r not in last or pages[last[r]][1] == page_size:
                    last[r] = len(pages)
                    pages.append([r, 0])
                pages[last[r]][1] += 1
    return [(r, used) for r, used in pages]


def memory_diagram(prompts: list[int], steps: int, max_new: int, page_size: int) -> Diagram:
    """The same requests' KV memory two ways: one contiguous reservation of
    prompt + max_new slots each, and fixed pages of page_size slots handed out as needed."""
    lengths = [p + steps for p in prompts]
    pages = page_assignment(prompts, steps, page_size)
    slot, gap, left, top = 14, 4, 96, 30
    reserved = sum(p + max_new for p in prompts)
    width = left + max(reserved * slot, len(pages) * (page_size * slot + gap)) + 10
    d = Diagram(
        width,
        top + 180,
        title="KV memory: one reservation per request against fixed-size pages",
        description=(
            f"{len(prompts)} requests, lettered A onwards, hold {', '.join(map(str, lengths))} "
            f"tokens. Reserving prompt + {max_new} slots each takes {reserved} slots, of which "
            f"{sum(lengths)} hold a token. Pages of {page_size} slots, handed out as the requests "
            f"grow, take {len(pages)} pages ({len(pages) * page_size} slots); only the last page "
            f"of each request is partly empty, and one request's pages need not be adjacent."
        ),
    )
    d.text(left, top - 14, f"one reservation each: {reserved} slots", size=13, anchor="start")
    x = left
    for r, (p, n) in enumerate(zip(prompts, lengths)):
        fill = "primary" if r % 2 else "accent"
        d.box(x, top, n * slot, 30, LETTERS[r], fill=fill, size=12)
        d.box(x + n * slot, top, (p + max_new - n) * slot, 30, fill="none", dashed=True)
        x += (p + max_new) * slot
    y = top + 80
    d.text(
        left,
        y - 14,
        f"pages of {page_size} slots: {len(pages) * page_size} slots",
        size=13,
        anchor="start",
    )
    for k, (r, used) in enumerate(pages):
        x = left + k * (page_size * slot + gap)
        fill = "primary" if r % 2 else "accent"
        d.box(x, y, used * slot, 30, fill=fill)
        if used < page_size:
            d.box(x + used * slot, y, (page_size - used) * slot, 30, fill="none", dashed=True)
        d.text(x + page_size * slot / 2, y + 15, LETTERS[r], size=12)
        d.text(x + page_size * slot / 2, y + 42, f"page {k}", size=10, muted=True)
    d.text(left - 8, top + 15, "reserved", size=11, anchor="end", muted=True)
    d.text(left - 8, y + 15, "paged", size=11, anchor="end", muted=True)
    _legend(
        d, left, y + 72, [("accent", "holds a token", False), ("none", "allocated, empty", True)]
    )
    return d


# --------------------------------------------------------------------------- int8
@dataclass(frozen=True)
class WeightError:
    """How far the int8 weights are from the float ones, over every quantized matrix."""

    max_abs: float  # largest |w - q * s| of any weight
    mean_abs: float  # mean |w - q * s| over every weight
    mean_weight: float  # mean |w|, for scale
    worst_over_bound: float  # max over rows of max |error| / (s / 2): at most 1


# --8<-- [start:weight_error]
@torch.no_grad()
def weight_error(model: GPT, quantized: GPT) -> WeightError:
    """Compare each Int8Linear of `quantized` with the float nn.Linear of the same name."""
    errors, weights, ratios = [], [], []
    for name, layer in quantized.named_modules():
        if isinstance(layer, Int8Linear):
            original = model.get_submodule(name)
            assert isinstance(original, torch.nn.Linear)
            w = original.weight.float()  # (out, in)
            err = (w - dequantize_int8(layer.weight_int8, layer.scale)).abs()
            errors.append(err.flatten())
            weights.append(w.abs().flatten())
            ratios.append((err.amax(dim=1) / (layer.scale / 2)).max())
    every, sizes = torch.cat(errors), torch.cat(weights)
    return WeightError(
        every.max().item(),
        every.mean().item(),
        sizes.mean().item(),
        torch.stack(ratios).max().item(),
    )


# --8<-- [end:weight_error]


# --8<-- [start:int8_loss]
def heldout_losses(model: GPT, quantized: GPT, tokens: int) -> dict[str, float]:
    """`heldout_loss` (the scoring the site model's own held-out loss uses) of both
    models on the first `tokens` ids of the site's held-out text."""
    ids = open_tokens(site.site_token_files()[1])[:tokens]
    return {"float32": heldout_loss(model, ids), "int8": heldout_loss(quantized, ids)}


# --8<-- [end:int8_loss]


def cached_heldout_losses(
    model: GPT, quantized: GPT, tokens: int, run_name: str
) -> dict[str, float]:
    """`heldout_losses`, computed once per site model run (its cache folder's name),
    held-out tokens and code, then read from the cache folder."""
    inputs = {"run": run_name, "heldout": site.site_token_files()[1].name, "tokens": tokens}
    code = (
        sys.modules[__name__],
        groundup.inference.quantize,
        groundup.train.heldout,
        *site._MODEL_CODE,
    )

    def compute() -> dict[str, float]:
        with one_thread():  # faster than two threads on a busy two-core machine
            return heldout_losses(model, quantized, tokens)

    return dict(cached_json("int8-heldout-loss", inputs, code, compute))


def greedy_agreement(a: list[list[int]], b: list[list[int]]) -> tuple[float, list[int]]:
    """The share of positions where two sets of continuations agree, and for each pair of
    rows the index of the first token where they differ (its length if none)."""
    same = sum(x == y for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    total = sum(len(r) for r in a)
    first = [
        next((t for t, (x, y) in enumerate(zip(ra, rb)) if x != y), len(ra)) for ra, rb in zip(a, b)
    ]
    return same / total, first
