"""What "BPE, under the hood" measures over the whole training text, kept in the cache
folder: how many words each merge touches, and the naive trainer against the fast one.

The timings are taken once per text, tokenizer and code, like the site model's training
time: a warm build reads them instead of spending about 8 s training both again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from dataclasses import dataclass

import regex

import groundup.tokenizer.train
from groundup.cache import cached_json
from groundup.pages.tokenization import bpe_inspection, naive_bpe
from groundup.tokenizer import BPETokenizer


@dataclass(frozen=True)
class TrainerTimes:
    """Seconds each trainer took, and whether the merges agree."""

    naive_seconds: float  # the naive trainer on the slice, one run
    fast_seconds: float  # the fast trainer on the slice, best of `repeats` runs
    same_merges: bool  # both learned the same merges with the same counts
    full_seconds: float  # the fast trainer on the whole training text
    same_as_site: bool  # ... and it learned exactly the site tokenizer's merges


def time_trainers(
    piece: str, train_text: str, num_merges: int, site: BPETokenizer, repeats: int = 5
) -> TrainerTimes:
    """Time `num_merges` merges of both trainers on `piece` (pre-tokenized with the site
    tokenizer's pattern, inside the timing), then the fast trainer on all of
    `train_text` for as many merges as `site` has."""

    def measure() -> dict[str, float | bool]:
        split = regex.compile(site.pattern)
        t0 = time.perf_counter()
        naive = naive_bpe.train_naive([piece], num_merges, site.pattern)
        naive_seconds = time.perf_counter() - t0
        fast_seconds = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fast = groundup.tokenizer.train.train_bpe(
                groundup.tokenizer.train.count_words([piece], split), num_merges
            )
            fast_seconds = min(fast_seconds, time.perf_counter() - t0)
        t0 = time.perf_counter()
        full = groundup.tokenizer.train.train_bpe(
            groundup.tokenizer.train.count_words([train_text], split), len(site.merges)
        )
        full_seconds = time.perf_counter() - t0
        return dataclasses.asdict(
            TrainerTimes(
                naive_seconds=naive_seconds,
                fast_seconds=fast_seconds,
                same_merges=[(m.pair, m.count) for m in fast] == naive,
                full_seconds=full_seconds,
                same_as_site=full == site.merges,
            )
        )

    inputs = {
        "piece": hashlib.sha256(piece.encode()).hexdigest(),
        "train": hashlib.sha256(train_text.encode()).hexdigest(),
        "num_merges": num_merges,
        "repeats": repeats,
        "site": hashlib.sha256(repr((site.pattern, site.merges)).encode()).hexdigest(),
    }
    code = (sys.modules[__name__], naive_bpe, groundup.tokenizer.train)
    return TrainerTimes(**cached_json("trainer-times", inputs, code, measure))


def cached_words_touched(train_text: str, site: BPETokenizer) -> list[int]:
    """`bpe_inspection.words_touched` for the pre-tokens of `train_text` (with `site`'s
    pattern) and `site`'s merges: counted once, then read from the cache folder."""

    def count() -> list[int]:
        words = groundup.tokenizer.train.count_words([train_text], regex.compile(site.pattern))
        return bpe_inspection.words_touched(words, site.merges)

    inputs = {
        "train": hashlib.sha256(train_text.encode()).hexdigest(),
        "site": hashlib.sha256(repr((site.pattern, site.merges)).encode()).hexdigest(),
    }
    code = (sys.modules[__name__], bpe_inspection, groundup.tokenizer.train)
    return list(cached_json("words-touched", inputs, code, count))
