"""Instrumented BPE training: record what the merge loop does, one step at a time.

"BPE, step by step" uses these to print the merge loop as it runs.
`trace_train` follows `groundup.pages.tokenization.naive_bpe.train_naive` step for step (the
tests check that they agree) and only adds bookkeeping; `merge_savings` replays
a trained tokenizer's merges to measure how much each one shortened the text.
(The matching trace of encoding is `groundup.pages.tokenization.bpe_inspection.trace_encode_piece`.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import regex

from groundup.pages.tokenization.naive_bpe import count_pairs, merge_pair
from groundup.tokenizer.patterns import GPT4_SPLIT_PATTERN
from groundup.tokenizer.train import Merge, merge_word

Pair = tuple[int, int]


@dataclass(frozen=True)
class TrainStep:
    """One iteration of the merge loop.

    `pair_counts` holds every adjacent pair's count *before* the merge, ordered
    the way the trainer ranks them (most frequent first, ties broken towards the
    lexicographically greatest pair of byte strings), so `pair_counts[0]` is the
    pair that was merged. `chunks` is every pre-token's ids *after* the merge.
    """

    pair: Pair
    new_id: int
    count: int
    pair_counts: list[tuple[Pair, int]]
    chunks: list[list[int]]


@dataclass(frozen=True)
class TrainTrace:
    """The whole run: the starting chunks, each step, and the bytes of every id."""

    initial: list[list[int]]
    steps: list[TrainStep]
    vocab: dict[int, bytes]

    def length(self, step: int) -> int:
        """Total number of tokens after `step` merges (`step=0`: the raw bytes)."""
        chunks = self.initial if step == 0 else self.steps[step - 1].chunks
        return sum(len(c) for c in chunks)


def trace_train(text: str, num_merges: int, pattern: str = GPT4_SPLIT_PATTERN) -> TrainTrace:
    """Run the naive merge loop on `text` for up to `num_merges` merges, recording each step.

    Produces the same merges as `train_naive([text], num_merges, pattern)`.
    """
    chunks = [list(piece.encode("utf-8")) for piece in regex.findall(pattern, text)]
    initial = [list(c) for c in chunks]
    vocab = {i: bytes([i]) for i in range(256)}
    steps: list[TrainStep] = []
    for new_id in range(256, 256 + num_merges):
        counts: Counter[Pair] = Counter()
        for ids in chunks:
            count_pairs(ids, counts)
        if not counts:
            break
        ranked = sorted(
            counts.items(),
            key=lambda item: (item[1], vocab[item[0][0]], vocab[item[0][1]]),
            reverse=True,
        )
        pair, count = ranked[0]
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        steps.append(TrainStep(pair, new_id, count, ranked, [list(c) for c in chunks]))
    return TrainTrace(initial, steps, vocab)


def merge_savings(word_counts: Mapping[bytes, int], merges: Sequence[Merge]) -> list[int]:
    """How many tokens each merge removed from the training text, replaying training.

    `word_counts` are the pre-token counts the merges were learned from (see
    `count_words`). Entry k is the drop in the total token count caused by
    merge k. It equals `merges[k].count` when the pair's two halves differ; for
    a pair (a, a) it can be smaller, because a run "a a a" holds two
    overlapping pairs but only one can be merged.
    """
    order = {m.pair: k for k, m in enumerate(merges)}
    savings = [0] * len(merges)
    for word_bytes, freq in word_counts.items():
        word = list(word_bytes)
        while len(word) > 1:
            # The next merge training applied to this word is the earliest one
            # whose pair is present: a merged pair never reappears later.
            k = min((order[p] for p in zip(word, word[1:]) if p in order), default=None)
            if k is None:
                break
            merged = merge_word(word, merges[k].pair, merges[k].new_id)
            savings[k] += freq * (len(word) - len(merged))
            word = merged
    return savings
