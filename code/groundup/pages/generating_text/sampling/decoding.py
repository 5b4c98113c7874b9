"""Sampling and decoding, measured: what each logits processor does to the site
model's next-token distribution, and what a decoding rule does to the text it writes
(diversity, repetition, and the text's likelihood under the model), for the
"Sampling and decoding" page.

Everything here calls `groundup.inference` (`SamplingSettings`, `generate`); nothing
re-implements a processor or a sampler.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from groundup import site
from groundup.cache import cached_json
from groundup.inference import SamplingSettings, generate
from groundup.model import GPT
from groundup.train import open_tokens

# the modules whose code the cached results depend on (`groundup.inference.generate`
# names the function there, hence import_module)
_CODE = tuple(
    importlib.import_module(f"groundup.inference.{name}")
    for name in ("beam_search", "decoder", "generate", "kv_cache", "processors")
)


# ------------------------------------------------------------------ one distribution
@dataclass(frozen=True)
class Kept:
    """What a setting leaves of one next-token distribution."""

    count: int  # ids with a finite logit after processing
    mass: float  # their share of the tempered distribution (before the filters)
    entropy: float  # of the distribution sampling uses, in nats


def processed_probs(
    logits: torch.Tensor, settings: SamplingSettings, ids: torch.Tensor | None = None
) -> torch.Tensor:
    """(V,) logits (and optional (T,) ids seen so far, for the repetition penalty) ->
    (V,) the probabilities `settings` samples from (0 where removed)."""
    seen = None if ids is None else ids[None]
    return settings.process(logits[None], seen).softmax(dim=-1)[0]


def kept(logits: torch.Tensor, settings: SamplingSettings) -> Kept:
    """How many ids `settings` keeps of (V,) logits, their tempered mass, the entropy."""
    processed = settings.process(logits[None])[0]
    keep = torch.isfinite(processed)
    tempered = (logits / settings.temperature).softmax(dim=-1)
    p = processed.softmax(dim=-1)
    entropy = -(p[keep] * p[keep].log()).sum()
    return Kept(int(keep.sum()), float(tempered[keep].sum()), float(entropy))


def top_rows(
    logits: torch.Tensor,
    settings: Sequence[SamplingSettings],
    n: int,
    ids: torch.Tensor | None = None,
) -> list[tuple[int, list[float]]]:
    """The n most likely ids of (V,) logits and, for each, its probability under
    every setting in `settings`: [(id, [p under settings[0], ...]), ...]. The order is
    that of the first setting's probabilities."""
    probs = [processed_probs(logits, s, ids) for s in settings]
    top = torch.topk(probs[0], n).indices.tolist()
    return [(i, [float(p[i]) for p in probs]) for i in top]


# ------------------------------------------------------------------ measuring text
# --8<-- [start:metrics]
def distinct_n(ids: Sequence[int], n: int) -> float:
    """Distinct-n: the number of different n-grams in `ids` over the number of n-grams
    (1.0: no n-gram occurs twice; near 0: the text loops)."""
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams)


def repeated_share(ids: Sequence[int], n: int = 4) -> float:
    """The share of n-grams that repeat an earlier n-gram of the same text: 1 - distinct-n."""
    return 1.0 - distinct_n(ids, n)


@torch.no_grad()
def continuation_nll(model: GPT, ids: torch.Tensor, start: int) -> torch.Tensor:
    """(B, T) ids -> (B,): the mean negative log-likelihood, in nats per token, of each
    row's ids[start:] under `model`, given everything before them."""
    logits, _ = model(ids[:, :-1])  # (B, T - 1, V): position t predicts ids[:, t + 1]
    nll = F.cross_entropy(logits.transpose(1, 2).float(), ids[:, 1:], reduction="none")
    return nll[:, start - 1 :].mean(dim=1)  # (B, T - 1) -> the new tokens' mean


# --8<-- [end:metrics]


@dataclass(frozen=True)
class TextStats:
    """Diversity, repetition and likelihood of a batch of texts, averaged over rows."""

    distinct_1: float
    distinct_2: float
    repeated_4: float  # share of repeated 4-grams
    nll: float  # nats per token under the site model
    sample: list[int] = field(default_factory=list)  # the first row's new ids


def text_stats(model: GPT, ids: torch.Tensor, start: int) -> TextStats:
    """The stats of the new ids ids[:, start:] of a (B, T) batch, each row measured alone."""
    rows = ids[:, start:].tolist()
    return TextStats(
        distinct_1=float(np.mean([distinct_n(r, 1) for r in rows])),
        distinct_2=float(np.mean([distinct_n(r, 2) for r in rows])),
        repeated_4=float(np.mean([repeated_share(r, 4) for r in rows])),
        nll=float(continuation_nll(model, ids, start).mean()),
        sample=rows[0],
    )


def heldout_windows(rows: int, prompt_len: int, new_tokens: int) -> torch.Tensor:
    """(rows, prompt_len + new_tokens) windows of the held-out token file, evenly spaced:
    each row's first prompt_len ids are a prompt, the rest is the real continuation."""
    tokens = open_tokens(site.site_token_files()[1], verify=False)
    width = prompt_len + new_tokens
    starts = np.linspace(0, len(tokens) - width, rows).astype(int)
    return torch.tensor(np.stack([tokens[s : s + width] for s in starts]).astype(np.int64))


# --8<-- [start:decodings]
TEMPERATURES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)  # 0.0 is greedy
OTHERS: dict[str, dict[str, Any]] = {  # generate() arguments
    "top-k 40, T = 1": {"temperature": 1.0, "top_k": 40},
    "top-p 0.9, T = 1": {"temperature": 1.0, "top_p": 0.9},
    "min-p 0.1, T = 1": {"temperature": 1.0, "min_p": 0.1},
    "greedy, repetition penalty 1.3": {"repetition_penalty": 1.3},
    "beam search, 4 beams": {"num_beams": 4},
}
# --8<-- [end:decodings]


# --8<-- [start:decoding_sweep]
def measure_decodings(
    model: GPT, windows: torch.Tensor, prompt_len: int, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Each decoding of TEMPERATURES and OTHERS continues every prompt (the first
    prompt_len ids of each window) for as many tokens as the real text has; the stats
    of each, and of the real continuation ("held-out text"), by name."""
    prompts, new = windows[:, :prompt_len], windows.size(1) - prompt_len
    runs = {f"T = {t:g}": {"temperature": t} for t in TEMPERATURES} | OTHERS
    stats = {"held-out text": text_stats(model, windows, prompt_len)}
    for name, kwargs in runs.items():
        out = generate(model, prompts, new, seed=seed, **kwargs)  # (B, prompt_len + new)
        stats[name] = text_stats(model, out, prompt_len)
    return {name: asdict(s) for name, s in stats.items()}


# --8<-- [end:decoding_sweep]


def decoding_sweep(
    rows: int = 16, prompt_len: int = 32, new_tokens: int = 96, seed: int = 0
) -> dict[str, TextStats]:
    """`measure_decodings` on `rows` held-out windows of the site model, cached on disk."""
    inputs = {
        "rows": rows,
        "prompt_len": prompt_len,
        "new_tokens": new_tokens,
        "seed": seed,
        "temperatures": TEMPERATURES,
        "others": OTHERS,
        "model": site.site_run_dir().name,
        "torch": torch.__version__,
    }

    def compute() -> dict[str, dict[str, Any]]:
        model = site.load_site_model().model
        windows = heldout_windows(rows, prompt_len, new_tokens)
        return measure_decodings(model, windows, prompt_len, seed)

    kept_json = cached_json("decoding-sweep", inputs, (sys.modules[__name__], *_CODE), compute)
    return {name: TextStats(**s) for name, s in kept_json.items()}


# ------------------------------------------------------------------ beam search
def sequence_logprob(model: GPT, ids: torch.Tensor, start: int) -> torch.Tensor:
    """(B, T) ids -> (B,): the total log-probability of each row's ids[start:]."""
    return -continuation_nll(model, ids, start) * (ids.size(1) - start)


def beam_widths(
    model: GPT, prompts: torch.Tensor, new_tokens: int, widths: Sequence[int]
) -> dict[int, tuple[float, float]]:
    """For each beam width (1 is greedy): the mean total log-probability of the
    continuations it finds for (B, T) prompts, and their mean share of repeated 4-grams."""
    out = {}
    for nb in widths:
        ids = generate(model, prompts, new_tokens, num_beams=nb)  # (B, T + new_tokens)
        T = prompts.size(1)
        score = float(sequence_logprob(model, ids, T).mean())
        rep = float(np.mean([repeated_share(r, 4) for r in ids[:, T:].tolist()]))
        out[nb] = (score, rep)
    return out


def beam_sweep(
    rows: int = 16, prompt_len: int = 32, new_tokens: int = 32, widths: Sequence[int] = (1, 2, 4, 8)
) -> dict[int, tuple[float, float]]:
    """`beam_widths` on held-out prompts of the site model, cached on disk."""
    inputs = {
        "rows": rows,
        "prompt_len": prompt_len,
        "new_tokens": new_tokens,
        "widths": list(widths),
        "model": site.site_run_dir().name,
        "torch": torch.__version__,
    }

    def compute() -> dict[str, list[float]]:
        prompts = heldout_windows(rows, prompt_len, 0)
        found = beam_widths(site.load_site_model().model, prompts, new_tokens, widths)
        return {str(nb): list(v) for nb, v in found.items()}

    kept_json = cached_json("beam-sweep", inputs, (sys.modules[__name__], *_CODE), compute)
    return {int(nb): (v[0], v[1]) for nb, v in kept_json.items()}
