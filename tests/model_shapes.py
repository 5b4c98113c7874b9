"""The size fields of a GPTConfig, as a TypedDict: test modules keep their small model
shapes in one, so that `GPTConfig(**TINY, ...)` is type-checked."""

from __future__ import annotations

from typing import TypedDict


class Shape(TypedDict):
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    d_model: int
