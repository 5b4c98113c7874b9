"""Measurements behind the odd behaviours that tokenization causes.

Each function measures one effect with a real tokenizer: what a word looks
like as tokens, how numbers are cut, how much the same sentence costs in
different languages, and which tokens a model trained on some text would
almost never see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import regex

from groundup.pages.tokenization.quirks.samples import Sample
from groundup.tokenizer.bpe import BPETokenizer


def pieces(tok: BPETokenizer, text: str) -> list[str]:
    """The tokens of `text` as strings. A token that holds part of a UTF-8
    character shows its bytes as escapes, e.g. '\\xe4'."""
    return [tok.token_bytes(i).decode("utf-8", "backslashreplace") for i in tok.encode(text)]


def pretokens(pattern: str, text: str) -> list[str]:
    """The pre-tokens the split pattern cuts `text` into; no token crosses their borders."""
    return regex.findall(pattern, text)


# --8<-- [start:split_shapes]
def split_shapes(tok: BPETokenizer, texts: Iterable[str]) -> Counter[tuple[int, ...]]:
    """How often each "shape" occurs: the byte lengths of the tokens a text is cut
    into, e.g. (3, 1) for '2024' -> '202', '4'."""
    return Counter(tuple(len(tok.token_bytes(i)) for i in tok.encode(t)) for t in texts)


# --8<-- [end:split_shapes]


@dataclass(frozen=True)
class LanguageCost:
    """What one translation costs with one tokenizer."""

    language: str
    script: str
    chars: int
    utf8_bytes: int
    tokens: int
    tokens_per_english_word: float
    bytes_per_token: float


# --8<-- [start:language_costs]
def language_costs(tok: BPETokenizer, samples: Sequence[Sample]) -> list[LanguageCost]:
    """Tokens, bytes and characters for each translation of the same text.

    Tokens are divided by the number of words in the English version (the first
    sample), so every language is priced per unit of the same meaning, even
    those written without spaces between words.
    """
    english_words = len(samples[0].text.split())
    costs = []
    for s in samples:
        n_bytes, n_tokens = len(s.text.encode("utf-8")), len(tok.encode(s.text))
        costs.append(
            LanguageCost(
                s.language,
                s.script,
                len(s.text),
                n_bytes,
                n_tokens,
                n_tokens / english_words,
                n_bytes / n_tokens,
            )
        )
    return costs


# --8<-- [end:language_costs]


# --8<-- [start:token_counts]
def token_counts(tok: BPETokenizer, text: str) -> Counter[int]:
    """How many times each id occurs when `text` is encoded: the number of
    training positions at which a model would see that id as input."""
    return Counter(tok.encode_ordinary(text))


def unseen_tokens(tok: BPETokenizer, counts: Counter[int]) -> list[int]:
    """Ordinary ids with no occurrence in `counts` (from `token_counts`), longest token first.

    Only merged tokens are considered, not the 256 single bytes: the question is
    which learned tokens the encoding of the text never uses.
    """
    merged = [i for i in tok.ranks.values() if len(tok.token_bytes(i)) > 1]
    unseen = [i for i in merged if counts[i] == 0]
    return sorted(unseen, key=lambda i: (-len(tok.token_bytes(i)), i))


# --8<-- [end:token_counts]


def space_then_letter(tok: BPETokenizer, text: str) -> tuple[int, int]:
    """In `text`'s encoding, count (a) tokens that start with a space and then a
    letter, like ' yes', and (b) lone-space tokens directly followed by a token
    that starts with a letter, like ' ' then 'yes'."""
    ids = tok.encode_ordinary(text)
    space = tok.encode_ordinary(" ")
    if len(space) != 1:
        raise ValueError("the tokenizer has no single token for ' '")
    (space_id,) = space

    def starts_with_letter(b: bytes) -> bool:
        head = b[:4].decode("utf-8", "ignore")[:1]
        return head.isalpha()

    # decide once per vocabulary entry, then count over the ids with array lookups
    by_id = {i: b for b, i in tok.ranks.items()}  # ordinary ids: all the encoding can hold
    entries = [by_id.get(i, b"") for i in range(max(by_id) + 1)]
    is_glued = np.array([e[:1] == b" " and starts_with_letter(e[1:]) for e in entries])
    is_letter = np.array([starts_with_letter(e) for e in entries])
    arr = np.asarray(ids, dtype=np.int64)
    glued = int(is_glued[arr].sum())
    lone = int(((arr[:-1] == space_id) & is_letter[arr[1:]]).sum())
    return glued, lone
