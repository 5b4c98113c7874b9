"""Tools for looking inside a byte-level BPE tokenizer.

Which alternative of a split pattern produced each pre-token, how one pre-token
is merged step by step, how many distinct pre-tokens each training merge has to
touch, and smaller tokenizers cut from a trained one. The articles on BPE use
these to compute what they show; none of them is needed to train or encode.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import regex

from groundup.tokenizer.bpe import BPETokenizer
from groundup.tokenizer.encode import bpe_encode_piece
from groundup.tokenizer.files import bytes_to_unicode
from groundup.tokenizer.train import Merge, merge_word

_SHOWN = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def visible(token: bytes) -> str:
    """Render token bytes for people: space as '␣', newline '↵', tab '⇥', CR '␍';
    bytes that are not (complete) UTF-8, and other control characters, as `\\xNN`.

    visible(b" the") == "␣the"; visible(b"\\xe2\\x80") == "\\\\xe2\\\\x80".
    """
    text = token.decode("utf-8", errors="backslashreplace")
    out = []
    for ch in text:
        if ch in _SHOWN:
            out.append(_SHOWN[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


_MARKDOWN_SPECIAL = {c: f"&#{ord(c)};" for c in "&<>\\`*_[]{}|#+-.!()~^$"}


def markdown_code(text: str) -> str:
    """`text` as inline code that Markdown leaves exactly as it is, even in a table
    cell: characters special to HTML or Markdown become character references."""
    return "<code>" + "".join(_MARKDOWN_SPECIAL.get(c, c) for c in text) + "</code>"


def split_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex: split on `|` outside groups and classes.

    split_alternatives("a|(b|c)|[|]") == ["a", "(b|c)", "[|]"].
    """
    alternatives: list[str] = []
    start, depth, i, n = 0, 0, 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            # a ']' right after '[' or '[^' is a literal, not the end of the class
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            if pattern[j : j + 1] == "]":
                i = j
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            alternatives.append(pattern[start:i])
            start = i + 1
        i += 1
    alternatives.append(pattern[start:])
    return alternatives


def explain_split(pattern: str, text: str) -> list[tuple[str, int]]:
    """Pre-tokenize `text` with `pattern`; for each pre-token also return the index
    of the top-level alternative that matched it (the first one that matches at
    that position, which is how regex alternation chooses)."""
    alternatives = [regex.compile(alt) for alt in split_alternatives(pattern)]
    out: list[tuple[str, int]] = []
    for m in regex.finditer(pattern, text):
        for k, alt in enumerate(alternatives):
            sub = alt.match(text, m.start())
            if sub is not None:
                if sub.end() != m.end():
                    raise AssertionError(f"alternative {k} disagrees with the full pattern")
                out.append((m.group(), k))
                break
        else:
            raise AssertionError("no alternative matched")  # impossible for a valid split
    return out


def trace_encode_piece(piece: bytes, ranks: Mapping[bytes, int]) -> list[list[bytes]]:
    """Every state of encoding one pre-token by lowest rank, as in `bpe_encode_piece`:
    the single bytes first, then the parts after each merge. The last state's
    parts map through `ranks` to exactly `bpe_encode_piece(piece, ranks)`."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    states = [list(parts)]
    while len(parts) > 1:
        candidates = [
            (ranks[parts[i] + parts[i + 1]], i)
            for i in range(len(parts) - 1)
            if parts[i] + parts[i + 1] in ranks
        ]
        if not candidates:
            break
        _, i = min(candidates)  # lowest rank, leftmost on ties
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
        states.append(list(parts))
    return states


def words_touched(word_counts: Mapping[bytes, int], merges: Sequence[Merge]) -> list[int]:
    """For each merge, how many distinct pre-tokens contained its pair when it was
    applied: the words the fast trainer must rewrite, where the naive one rescans all."""
    words = [list(w) for w in word_counts]
    holders: defaultdict[int, set[int]] = defaultdict(set)  # token id -> words with it
    for w, word in enumerate(words):
        for t in word:
            holders[t].add(w)
    touched: list[int] = []
    for m in merges:
        a, b = m.pair
        n = 0
        for w in holders[a] & holders[b]:
            new_word = merge_word(words[w], m.pair, m.new_id)
            if len(new_word) != len(words[w]):
                n += 1
                words[w] = new_word
                holders[m.new_id].add(w)
        touched.append(n)
    return touched


def token_count(word_counts: Mapping[bytes, int], tok: BPETokenizer) -> int:
    """How many tokens `tok` makes of a text given as pre-token counts (from
    `count_words` with `tok`'s pattern): the same number as
    `len(tok.encode_ordinary(text))`, with each distinct pre-token encoded once."""
    ranks = tok.ranks
    return sum(freq * len(bpe_encode_piece(word, ranks)) for word, freq in word_counts.items())


def merge_table(tok: BPETokenizer) -> list[tuple[bytes, bytes, int]]:
    """`tok.merges` as (left bytes, right bytes, count), in the order learned."""
    return [(tok.token_bytes(m.pair[0]), tok.token_bytes(m.pair[1]), m.count) for m in tok.merges]


def pair_counts(
    word_counts: Mapping[bytes, int], ranks: Mapping[bytes, int]
) -> Counter[tuple[bytes, bytes]]:
    """Adjacent-pair counts (as byte strings) of a corpus given as pre-token counts,
    after encoding every pre-token with `ranks`: the counts a trainer sees when
    the tokens in `ranks` are the merges it has made so far."""
    by_id = {i: b for b, i in ranks.items()}
    counts: Counter[tuple[bytes, bytes]] = Counter()
    for word, freq in word_counts.items():
        parts = [by_id[i] for i in bpe_encode_piece(word, dict(ranks))]
        for pair in zip(parts, parts[1:]):
            counts[pair] += freq
    return counts


# --8<-- [start:truncate]
def truncate(tok: BPETokenizer, num_merges: int) -> BPETokenizer:
    """The tokenizer made of the 256 bytes and the first `num_merges` merges of `tok`.

    BPE training is greedy, so this is exactly the tokenizer that training to
    256 + num_merges ids on the same text would give. Special tokens are dropped.
    """
    largest = max(tok.ranks.values()) + 1 - 256
    if not 0 <= num_merges <= largest:
        raise ValueError(f"num_merges must be in 0..{largest}, got {num_merges}")
    limit = 256 + num_merges
    ranks = {b: i for b, i in tok.ranks.items() if i < limit}
    return BPETokenizer(ranks, tok.pattern, merges=tok.merges[:num_merges])


# --8<-- [end:truncate]


def hf_merges(hf: Any) -> list[tuple[bytes, bytes]]:
    """The merges of a Hugging Face byte-level BPE `tokenizers.Tokenizer`, as byte strings."""
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    merges = json.loads(hf.to_str())["model"]["merges"]
    out: list[tuple[bytes, bytes]] = []
    for m in merges:
        a, b = m.split(" ") if isinstance(m, str) else m
        out.append((bytes(byte_of[c] for c in a), bytes(byte_of[c] for c in b)))
    return out


def hf_token_bytes(hf: Any, token_id: int) -> bytes:
    """The bytes of one id of a Hugging Face byte-level BPE tokenizer (special tokens as UTF-8)."""
    token = hf.id_to_token(token_id)
    if token is None:
        raise ValueError(f"unknown token id {token_id}")
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    if all(c in byte_of for c in token):
        return bytes(byte_of[c] for c in token)
    return token.encode("utf-8")
