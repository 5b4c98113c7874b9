"""The size fields of a GPTConfig, as a TypedDict: test modules keep their small model
shapes in one, so that `GPTConfig(**TINY, ...)` is type-checked; and `tiny_gpt`, the
small random model the page tests build."""

from __future__ import annotations

from typing import TypedDict

import torch

from groundup.model import GPT, GPTConfig


class Shape(TypedDict):
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    d_model: int


def tiny_gpt(flavour: str = "gpt2", **shape_and_overrides: object) -> GPT:
    """A small random GPT in eval mode, the same weights every call (seed 0):
    GPTConfig.<flavour> (gpt2 or llama) with 2 layers, 4 heads and d_model 32 unless the
    keyword arguments (vocab_size and block_size, at least) say otherwise."""
    torch.manual_seed(0)
    shape: dict[str, object] = dict(n_layer=2, n_head=4, d_model=32)
    return GPT(getattr(GPTConfig, flavour)(**{**shape, **shape_and_overrides})).eval()
