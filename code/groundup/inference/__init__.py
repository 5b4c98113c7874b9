"""Generating text: logits processors, the KV cache, `generate`, beam search and
speculative decoding, for `groundup.model.GPT`."""

from groundup.inference.beam_search import beam_search
from groundup.inference.decoder import Decoder, positions_of
from groundup.inference.generate import generate, prompt_batch, stream
from groundup.inference.kv_cache import KVCache, LayerCache
from groundup.inference.processors import (
    SamplingSettings,
    apply_temperature,
    min_p_filter,
    repetition_penalty,
    sample,
    top_k_filter,
    top_p_filter,
)

__all__ = [
    "Decoder",
    "KVCache",
    "LayerCache",
    "SamplingSettings",
    "apply_temperature",
    "beam_search",
    "generate",
    "min_p_filter",
    "positions_of",
    "prompt_batch",
    "repetition_penalty",
    "sample",
    "stream",
    "top_k_filter",
    "top_p_filter",
]
