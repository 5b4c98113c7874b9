"""Cutting text into bytes, characters or words, and what each choice costs.

The "Why models need tokens" article compares these units with BPE: how many
symbols a vocabulary needs, how long the sequences get, and how much unseen
text a word vocabulary cannot represent. (Smaller BPE vocabularies cut from a
trained one come from `groundup.pages.tokenization.bpe_inspection.truncate`.)
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Collection, Sequence

from groundup.cache import cached_json
from groundup.pages.tokenization import bpe_inspection
from groundup.tokenizer import BPETokenizer


# --8<-- [start:units]
def byte_units(text: str) -> list[int]:
    """One unit per UTF-8 byte: 256 possible symbols cover every text."""
    return list(text.encode("utf-8"))


def char_units(text: str) -> list[str]:
    """One unit per Unicode code point."""
    return list(text)


def word_units(text: str) -> list[str]:
    """One unit per whitespace-separated word; the whitespace is dropped."""
    return text.split()


# --8<-- [end:units]


# --8<-- [start:oov_rate]
def word_vocab(words: Sequence[str], size: int | None = None) -> set[str]:
    """The `size` most frequent words (all of them if `size` is None)."""
    return {w for w, _ in Counter(words).most_common(size)}


def oov_rate(vocab: Collection[str], words: Sequence[str]) -> float:
    """Fraction of `words` (repeats counted) that `vocab` lacks."""
    if not words:
        raise ValueError("oov_rate of an empty word list is undefined")
    return sum(w not in vocab for w in words) / len(words)


# --8<-- [end:oov_rate]


def truncated_lengths(tok: BPETokenizer, text: str, sizes: Sequence[int]) -> list[int]:
    """How many tokens `text` takes with `tok` truncated to each vocabulary size in
    `sizes` (`bpe_inspection.truncate`): encoded once per tokenizer, text and sizes,
    then read from the cache folder."""

    def count() -> list[int]:
        return [len(bpe_inspection.truncate(tok, v - 256).encode_ordinary(text)) for v in sizes]

    ranks = sorted((b.hex(), i) for b, i in tok.ranks.items())
    inputs = {
        "tokenizer": hashlib.sha256(repr((tok.pattern, ranks)).encode()).hexdigest(),
        "text": hashlib.sha256(text.encode()).hexdigest(),
        "sizes": list(sizes),
    }
    code = (sys.modules[__name__], bpe_inspection, sys.modules[BPETokenizer.__module__])
    return [int(n) for n in cached_json("truncated-lengths", inputs, code, count)]
