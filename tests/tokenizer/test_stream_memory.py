"""`encode_iterable` streams: its memory does not grow with the length of the input.

The text is generated line by line and never held in memory; ids are counted,
not stored. The expected count is computed independently: every line ends with
"\n" and the next starts with a letter, which is a pre-token boundary for the
GPT-4 pattern, so the count for the stream is the sum of the per-line counts.
With special tokens allowed, every line is a document followed by "<|endoftext|>",
cut across two chunks, and the count gains one id per document.
"""

from __future__ import annotations

import itertools
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundup.tokenizer import GPT4_SPLIT_PATTERN, BPETokenizer

MB = 1 << 20
EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def tok(shakespeare) -> BPETokenizer:
    return BPETokenizer.train(shakespeare[:300_000], 1024, GPT4_SPLIT_PATTERN)


@pytest.fixture(scope="module")
def lines(shakespeare) -> list[str]:
    """~200 long lines: Shakespeare's lines joined in groups, each stripped and ending in "\\n"."""
    raw = [line.strip() for line in shakespeare[:400_000].splitlines() if line.strip()]
    raw = [line for line in raw if line[0].isalpha()]
    groups = [" ".join(raw[i : i + 12]) + "\n" for i in range(0, 12 * 200, 12)]
    assert all(g[0].isalpha() for g in groups)
    return groups


def generate(lines: list[str], n_bytes: int) -> Iterator[str]:
    """Yield `lines` cyclically until about `n_bytes` characters have gone by."""
    seen = 0
    for line in itertools.cycle(lines):
        yield line
        seen += len(line)
        if seen >= n_bytes:
            return


def expected_count(tok: BPETokenizer, lines: list[str], n_bytes: int) -> int:
    per_line = {line: len(tok.encode_ordinary(line)) for line in set(lines)}
    total = 0
    seen = 0
    for line in itertools.cycle(lines):  # same walk as `generate`, counting only
        total += per_line[line]
        seen += len(line)
        if seen >= n_bytes:
            return total
    raise AssertionError("unreachable")


def test_line_counts_add_up(tok, lines):
    # the oracle's premise: cutting at these line ends never changes the ids
    text = "".join(lines * 2)
    assert tok.encode_ordinary(text) == [i for line in lines * 2 for i in tok.encode_ordinary(line)]


def peak_traced(tok: BPETokenizer, lines: list[str], n_bytes: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        count = sum(1 for _ in tok.encode_iterable(generate(lines, n_bytes)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_stream_memory_does_not_grow_with_input(tok, lines):
    tok.encode_ordinary("".join(lines))  # warm the pre-token cache for both runs alike
    small_n, large_n = 5 * MB, 20 * MB
    small_count, small_peak = peak_traced(tok, lines, small_n)
    large_count, large_peak = peak_traced(tok, lines, large_n)
    print(
        f"\npeak traced memory: 5 MB -> {small_peak / MB:.2f} MiB, 20 MB -> {large_peak / MB:.2f} MiB"
    )
    assert small_count == expected_count(tok, lines, small_n)
    assert large_count == expected_count(tok, lines, large_n)
    assert large_count > 3.5 * small_count
    assert large_peak < 1.5 * small_peak + 1 * MB
    assert large_peak < 30 * MB


@pytest.fixture(scope="module")
def tok_eot(tok) -> BPETokenizer:
    """The same vocabulary with an end-of-text token after it."""
    return BPETokenizer(tok.ranks, tok.pattern, {EOT: tok.vocab_size})


def generate_documents(lines: list[str], n_bytes: int) -> Iterator[str]:
    """`generate`'s lines as documents, each followed by EOT cut in two: "<|endo", "ftext|>"."""
    for line in generate(lines, n_bytes):
        yield line + EOT[:6]
        yield EOT[6:]


def test_stream_with_specials_does_not_grow_with_input(tok_eot, lines):
    eot_id = tok_eot.special_tokens[EOT]
    tok_eot.encode_ordinary("".join(lines))
    n_lines = {n: sum(1 for _ in generate(lines, n)) for n in (MB, 4 * MB)}
    counts, peaks = {}, {}
    for n_bytes in n_lines:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            ids = tok_eot.encode_iterable(generate_documents(lines, n_bytes), allowed_special="all")
            count = n_eot = 0
            for i in ids:
                count += 1
                n_eot += i == eot_id
            _, peaks[n_bytes] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        counts[n_bytes] = count
        assert n_eot == n_lines[n_bytes]  # every separator, cut in two, is one special id
        assert count == expected_count(tok_eot, lines, n_bytes) + n_lines[n_bytes]
    small, large = peaks[MB], peaks[4 * MB]
    print(f"\nwith specials: 1 MB -> {small / MB:.2f} MiB, 4 MB -> {large / MB:.2f} MiB")
    assert counts[4 * MB] > 3.5 * counts[MB]
    assert large < 1.5 * small + 1 * MB
    assert large < 30 * MB


def test_a_materialised_stream_would_be_caught(tok, lines):
    # the same measurement on a consumer that keeps every id grows with the input,
    # so the bound above is a real check and not vacuous
    def keep_all(n_bytes):
        tracemalloc.start()
        try:
            ids = list(tok.encode_iterable(generate(lines, n_bytes)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return len(ids), peak

    _, small_peak = keep_all(MB // 4)
    _, large_peak = keep_all(MB)
    assert large_peak > 1.5 * small_peak + 1 * MB


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.linux  # reads the RSS from /proc
def test_stream_a_300_mb_file(tok, tmp_path: Path, lines):
    paragraph = "".join(lines[:50])
    assert paragraph[0].isalpha() and paragraph.endswith("\n")
    n_bytes = len(paragraph.encode("utf-8"))
    repeats = 300 * MB // n_bytes
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(repeats):
            f.write(paragraph)
    assert path.stat().st_size == repeats * n_bytes >= 299 * MB
    expected = repeats * len(tok.encode_ordinary(paragraph))

    tok.encode_ordinary(paragraph)  # warm the cache
    baseline = _rss_bytes()
    peak = baseline

    def sampled(f) -> Iterator[str]:
        nonlocal peak
        for k, line in enumerate(f):
            if k % 5000 == 0:
                peak = max(peak, _rss_bytes())
            yield line

    with open(path, encoding="utf-8") as f:
        count = sum(1 for _ in tok.encode_iterable(sampled(f)))
    peak = max(peak, _rss_bytes())
    print(f"\n300 MB stream: {count} tokens, RSS growth {(peak - baseline) / MB:.1f} MiB")
    assert count == expected
    assert peak - baseline < 100 * MB
