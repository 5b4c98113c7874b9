"""What "Tokenizers in practice" computes over the whole site corpus, kept in the cache
folder so that a warm build reads it: Hugging Face's byte-level BPE trained on the
training text and how many tokens it cuts the corpus into (about 13 s a build before),
the compression curve of the truncated site tokenizer, and the retraining check.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from typing import Any

import regex

import groundup.tokenizer.train
from groundup.atomic import atomic_write_text
from groundup.cache import cache_path, cached_json, timed
from groundup.pages.tokenization import bpe_inspection
from groundup.pages.tokenization.bpe_inspection import token_count, truncate
from groundup.tokenizer import BPETokenizer, interop
from groundup.tokenizer.interop import bytes_per_token
from groundup.tokenizer.train import count_words


def site_hf_bpe(tok: BPETokenizer, train_text: str) -> Any:
    """`interop.train_hf_bpe` on `train_text` with `tok`'s vocabulary size, split pattern
    and special tokens: trained once, then loaded from the cache folder."""
    from tokenizers import Tokenizer, __version__

    inputs = {
        "text": _digest([train_text]),
        "vocab_size": tok.vocab_size,
        "pattern": tok.pattern,
        "special_tokens": sorted(tok.special_tokens),
        "tokenizers": __version__,
    }
    with timed("hf bpe tokenizer"):
        path = cache_path("hf-bpe", inputs, (interop, sys.modules[__name__]), suffix=".json")
        if path.exists():
            return Tokenizer.from_file(str(path))
        hf = interop.train_hf_bpe(
            [train_text], tok.vocab_size, tok.pattern, list(tok.special_tokens)
        )
        atomic_write_text(path, hf.to_str())
        return hf


def hf_token_counts(hf: Any, texts: Sequence[str]) -> list[int]:
    """How many ids `hf` encodes each of `texts` into, counted once per tokenizer and text."""
    inputs = {"tokenizer": _digest([hf.to_str()]), "texts": _digest(texts)}
    return list(
        cached_json(
            "hf-token-counts",
            inputs,
            (sys.modules[__name__],),
            lambda: [len(hf.encode(text).ids) for text in texts],
        )
    )


def _digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


def compression_curve(
    tok: BPETokenizer, train_text: str, heldout_text: str, sizes: Sequence[int]
) -> list[tuple[int, float, float]]:
    """(ids, held-out bytes per token, training bytes per token) of `tok` truncated to
    each vocabulary size in `sizes` (single bytes included, special tokens not):
    counted once per tokenizer, texts and sizes, then read from the cache folder."""

    def measure() -> list[tuple[int, float, float]]:
        split = regex.compile(tok.pattern)
        words = {name: count_words([text], split) for name, text in texts.items()}
        n_bytes = {name: len(text.encode("utf-8")) for name, text in texts.items()}
        curve = []
        for v in sizes:
            small = truncate(tok, v - 256)
            held, trained = (
                bytes_per_token(n_bytes[name], token_count(words[name], small))
                for name in ("heldout", "train")
            )
            curve.append((v, held, trained))
        return curve

    texts = {"train": train_text, "heldout": heldout_text}
    inputs = {
        "tokenizer": _tokenizer_digest(tok),
        "texts": _digest([train_text, heldout_text]),
        "sizes": list(sizes),
    }
    code = (sys.modules[__name__], bpe_inspection, interop, groundup.tokenizer.train)
    return [
        (int(v), float(h), float(t))
        for v, h, t in cached_json("compression-curve", inputs, code, measure)
    ]


def retrained_is_truncated(tok: BPETokenizer, train_text: str, k: int) -> bool:
    """Whether training on `train_text` for `k` merges with `tok`'s pattern learns the
    same ranks as `truncate(tok, k)`: checked once per tokenizer, text and k."""
    inputs = {"tokenizer": _tokenizer_digest(tok), "texts": _digest([train_text]), "k": k}
    code = (sys.modules[__name__], bpe_inspection, groundup.tokenizer.train)

    def check() -> bool:
        return BPETokenizer.train(train_text, 256 + k, tok.pattern).ranks == truncate(tok, k).ranks

    return bool(cached_json("retrained-is-truncated", inputs, code, check))


def _tokenizer_digest(tok: BPETokenizer) -> str:
    ranks = sorted((b.hex(), i) for b, i in tok.ranks.items())
    return _digest([repr((tok.pattern, ranks, sorted(tok.special_tokens.items())))])
