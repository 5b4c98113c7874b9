"""The sampling playground on the "Sampling and decoding" page: the site model's
next-token logits for a few prompts, shipped inline as JSON, and the widget's HTML.

The browser (docs/javascripts/playground.js) applies temperature, top-k and top-p to
these logits in `SamplingSettings.process`'s order and draws the 20 most likely tokens.
Every one of the V logits is shipped, not only the top ones: top-p's cut and the
renormalised probabilities depend on the mass of the whole tail, and that mass
changes with the temperature, so no fixed summary of the tail would do.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import torch

from groundup.model import GPT
from groundup.tokenizer import BPETokenizer

PROMPTS = (
    "def __init__(self",
    "if x is None:\n",
    "        return",
    "import",
    "class Foo",
    "for i in range(len(",
)
"""The prompts the reader can pick: from nearly sure (a comma after `self`) to flat."""

VIEW = 20  # tokens drawn as bars
DECIMALS = 3  # logits are shipped rounded to this many decimals


@dataclass(frozen=True)
class Slider:
    """An <input type=range>: its bounds, step and starting value."""

    name: str
    label: str
    low: float
    high: float
    step: float
    value: float


TEMPERATURE = Slider("temperature", "Temperature", 0.1, 2.0, 0.05, 1.0)
TOP_K = Slider("top-k", "Top-k", 1, 101, 1, 101)  # the highest position means off
TOP_P = Slider("top-p", "Top-p", 0.05, 1.0, 0.01, 1.0)  # 1.0 is off, as in SamplingSettings
SLIDERS = (TEMPERATURE, TOP_K, TOP_P)


def token_label(text: str) -> str:
    """A token's text made visible: spaces as '·', newlines as '⏎', tabs as '→'."""
    return text.replace(" ", "·").replace("\n", "⏎").replace("\t", "→") or "(empty)"


@torch.no_grad()
def next_token_logits(model: GPT, tok: BPETokenizer, prompt: str) -> torch.Tensor:
    """(V,) float32 logits of the token that follows `prompt` under `model`."""
    ids = torch.tensor([tok.encode_ordinary(prompt)])  # (1, T)
    logits, _ = model(ids)  # (1, T, V)
    return logits[0, -1].float()


# --8<-- [start:playground_data]
def playground_entry(
    model: GPT, tok: BPETokenizer, prompt: str, view: int = VIEW
) -> dict[str, Any]:
    """One prompt's data: every logit (V of them, minus the largest, rounded) and the
    ids and labels of the `view` most likely tokens, most likely first."""
    logits = next_token_logits(model, tok, prompt)  # (V,)
    shifted = torch.round((logits - logits.max()) * 10**DECIMALS) / 10**DECIMALS
    top = torch.topk(shifted, view).indices.tolist()
    return {
        "prompt": prompt,
        "logits": [round(x, DECIMALS) for x in shifted.tolist()],
        "top": top,
        "labels": [token_label(tok.decode([i])) for i in top],
    }


def playground_data(
    model: GPT, tok: BPETokenizer, prompts: tuple[str, ...] = PROMPTS
) -> dict[str, Any]:
    """What the widget ships: one entry per prompt, the vocabulary size, the view size."""
    entries = [playground_entry(model, tok, p) for p in prompts]
    return {"vocab_size": model.config.vocab_size, "view": VIEW, "prompts": entries}


# --8<-- [end:playground_data]


def shipped_logits(data: dict[str, Any], prompt: int) -> torch.Tensor:
    """(1, V) float32 logits of one prompt, read back from the shipped data."""
    return torch.tensor([data["prompts"][prompt]["logits"]], dtype=torch.float32)


def _slider(s: Slider) -> str:
    fmt = (lambda x: str(int(x))) if s.step >= 1 else (lambda x: f"{x:g}")
    return (
        f'<div class="gu-playground__control">'
        f'<label for="gu-pg-{s.name}">{s.label}</label>'
        f'<input type="range" id="gu-pg-{s.name}" data-control="{s.name}" '
        f'min="{fmt(s.low)}" max="{fmt(s.high)}" step="{fmt(s.step)}" value="{fmt(s.value)}">'
        f'<output for="gu-pg-{s.name}" data-output="{s.name}">{fmt(s.value)}</output>'
        f"</div>"
    )


def playground_html(data: dict[str, Any]) -> str:
    """The widget: a prompt <select>, three labelled sliders, and an empty list of bars
    that playground.js fills. The data rides along inline as JSON in an attribute (no
    request leaves the page). Not in a <script> element: Material's instant navigation
    re-creates the scripts of a new page as JavaScript and would run the JSON."""
    payload = html.escape(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    options = "".join(
        f'<option value="{i}">{html.escape(repr(p["prompt"]))}</option>'
        for i, p in enumerate(data["prompts"])
    )
    return (
        f'<div class="gu-playground" data-playground="{payload}">'
        '<div class="gu-playground__controls">'
        '<div class="gu-playground__control">'
        '<label for="gu-pg-prompt">Prompt</label>'
        f'<select id="gu-pg-prompt" data-control="prompt">{options}</select></div>'
        + "".join(_slider(s) for s in SLIDERS)
        + "</div>"
        '<p class="gu-playground__summary" aria-live="polite"></p>'
        f'<ol class="gu-playground__bars" aria-label="The {data["view"]} most likely next '
        'tokens and their probabilities"></ol>'
        "<noscript><p>The playground needs JavaScript.</p></noscript>"
        "</div>"
    )
