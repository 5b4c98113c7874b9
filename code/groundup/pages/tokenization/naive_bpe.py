"""The naive BPE trainer: recount every pair after every merge.

Written for the article and kept as a test oracle: it is slow (each merge scans
the whole corpus) but obviously right. `groundup.tokenizer.train` must produce
exactly the same merges, only faster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import regex

Pair = tuple[int, int]


# --8<-- [start:count_pairs]
def count_pairs(ids: list[int], counts: Counter[Pair] | None = None) -> Counter[Pair]:
    """Count adjacent pairs in `ids`, e.g. [1, 2, 1, 2] -> {(1, 2): 2, (2, 1): 1}."""
    counts = Counter() if counts is None else counts
    counts.update(zip(ids, ids[1:]))
    return counts


# --8<-- [end:count_pairs]


# --8<-- [start:merge_pair]
def merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `ids`, left to right."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# --8<-- [end:merge_pair]


# --8<-- [start:train_naive]
def train_naive(texts: Iterable[str], num_merges: int, pattern: str) -> list[tuple[Pair, int]]:
    """Learn up to `num_merges` merges; returns [((a, b), count), ...] in order.

    The most frequent pair wins; ties go to the pair whose byte strings are
    lexicographically greatest. Stops early when no pair is left.
    """
    chunks = [
        list(piece.encode("utf-8")) for text in texts for piece in regex.findall(pattern, text)
    ]
    vocab = {i: bytes([i]) for i in range(256)}
    merges: list[tuple[Pair, int]] = []
    for new_id in range(256, 256 + num_merges):
        counts: Counter[Pair] = Counter()
        for ids in chunks:  # full recount: the slow part
            count_pairs(ids, counts)
        if not counts:
            break
        pair = max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        merges.append((pair, counts[pair]))
    return merges


# --8<-- [end:train_naive]
