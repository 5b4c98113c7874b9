"""The fast BPE trainer: count unique pre-tokens once, update pair counts incrementally.

Three ideas make it fast while staying plain Python:

1. *Frequency counts.* A corpus has far fewer distinct pre-tokens than pre-tokens
   (" the" appears thousands of times), so we train on the distinct words and
   weight each by how often it occurs.
2. *Incremental updates.* After merging (a, b), only words that contain (a, b)
   change. We keep an index pair -> words and touch only those words.
3. *A lazy max-heap.* The most frequent pair is read from a heap; entries whose
   count is out of date are discarded when they reach the top.

Ties between equally frequent pairs go to the lexicographically greatest pair of
byte strings, exactly as in `groundup.pages.tokenization.naive_bpe.train_naive`.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import regex
from tqdm.auto import tqdm

Pair = tuple[int, int]


@dataclass(frozen=True)
class Merge:
    """One learned merge: `pair` became token `new_id`; `count` is its frequency then."""

    pair: Pair
    new_id: int
    count: int


# --8<-- [start:descending]
class _Descending:
    """Heap key that orders byte-string pairs greatest-first (heapq is a min-heap)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[bytes, bytes]) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return self.key > other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key


# --8<-- [end:descending]


def merge_word(word: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `word`, left to right."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(word)
    while i < n:
        if word[i] == a and i + 1 < n and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


# --8<-- [start:train_bpe]
def train_bpe(
    word_counts: dict[bytes, int], num_merges: int, *, progress: bool = False
) -> list[Merge]:
    """Learn up to `num_merges` merges from pre-token counts {b" the": 812, ...}.

    Token ids 0..255 are the raw bytes; merge k creates token 256 + k.
    Stops early if no pair is left to merge.
    """
    vocab = [bytes([i]) for i in range(256)]
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())

    # Pair counts over the whole corpus, and which words contain each pair.
    pair_counts: defaultdict[Pair, int] = defaultdict(int)
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for w, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freq
            where[pair].add(w)

    def heap_entry(pair: Pair) -> tuple[int, _Descending, Pair]:
        key = _Descending((vocab[pair[0]], vocab[pair[1]]))
        return (-pair_counts[pair], key, pair)

    heap = [heap_entry(pair) for pair in pair_counts]
    heapq.heapify(heap)

    merges: list[Merge] = []
    for new_id in tqdm(range(256, 256 + num_merges), disable=not progress, unit="merge"):
        # Pop until the top entry is up to date (lazy deletion).
        while heap and -heap[0][0] != pair_counts.get(heap[0][2], 0):
            heapq.heappop(heap)
        if not heap or heap[0][0] == 0:
            break
        neg_count, _, pair = heapq.heappop(heap)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        merges.append(Merge(pair, new_id, -neg_count))

        # Re-merge only the words that contain the pair; collect count changes.
        delta: Counter[Pair] = Counter()
        for w in where.pop(pair):
            word = words[w]
            new_word = merge_word(word, pair, new_id)
            if len(new_word) == len(word):
                continue  # stale index entry: this word no longer has the pair
            freq = freqs[w]
            for p in zip(word, word[1:]):
                delta[p] -= freq
            for p in zip(new_word, new_word[1:]):
                delta[p] += freq
                if new_id in p:
                    where[p].add(w)
            words[w] = new_word

        for p, d in delta.items():
            if d:
                pair_counts[p] += d
                if pair_counts[p] > 0:
                    heapq.heappush(heap, heap_entry(p))
                else:
                    del pair_counts[p]
    return merges


# --8<-- [end:train_bpe]


# --8<-- [start:count_words]
def count_words(texts: Iterable[str], split: regex.Pattern[str]) -> Counter[bytes]:
    """Pre-tokenize once and count each distinct pre-token (as UTF-8 bytes)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(split.findall(text))
    return Counter({piece.encode("utf-8"): n for piece, n in counts.items()})


# --8<-- [end:count_words]
