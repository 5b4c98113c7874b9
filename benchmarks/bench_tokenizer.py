#!/usr/bin/env python3
"""Benchmark our byte-level BPE tokenizer against named peers, in one run.

What is measured (on Tiny Shakespeare and on the default corpus, at two
vocabulary sizes), always single-threaded:

* training time: `BPETokenizer.train` (ours) vs Hugging Face `tokenizers`
  (same split pattern) vs our naive trainer, which recounts every pair after
  every merge;
* encoding throughput in MB/s of UTF-8 input: `encode_ordinary` on a fresh
  tokenizer (cold per-pre-token cache) and on a warm one, vs `tiktoken` built
  from the same ranks. The ids must be identical, or the run stops.

Fast measurements are repeated (`--repeats`), with the peers interleaved and
their order alternated on every repeat; every repeat is kept, and the report
gives the best, the median and the slowest. The naive trainer runs once per row in
a worker process: to completion at small vocabularies, and under a wall-clock
cap (`--naive-cap`) above that, in which case its ratio is reported as a lower
bound, never extrapolated.

Results go to a Markdown section (between `<!-- tokenizer:start -->` and
`<!-- tokenizer:end -->` in `--output`, other sections are kept) and to a JSON
file with every raw timing (`--json`). The run refuses to start, or to write,
when the working tree has uncommitted changes (other than the results files):
a published number must name the commit it measured. `--allow-dirty` runs
anyway and marks the results as not publishable.

    python benchmarks/bench_tokenizer.py            # full run, 20-30 min on 2 cores
    python benchmarks/bench_tokenizer.py --quick    # smoke run on small slices, < 1 min
"""

from __future__ import annotations

import os

# Pin Hugging Face `tokenizers` (Rust, rayon) to one thread. This must happen
# before `tokenizers` is imported: its thread pool reads the variable once.
os.environ["RAYON_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

from tqdm import tqdm  # noqa: E402

from groundup.corpus import default_corpus  # noqa: E402
from groundup.pages.tokenization.naive_bpe import train_naive  # noqa: E402
from groundup.tokenizer import GPT4_SPLIT_PATTERN, BPETokenizer  # noqa: E402
from groundup.tokenizer.interop import to_tiktoken, train_hf_bpe  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_report.py
import _report  # noqa: E402
from _report import (  # noqa: E402
    LoadMonitor,
    check_publishable,
    commit_cell,
    exit_on_dirty_tree,
    git_state,
    markers,
    run_facts,
    save_results,
    spread,
)

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "RESULTS.md"
DEFAULT_JSON = ROOT / "benchmarks" / "results_tokenizer.json"

# The floors from the issue. A ratio is always "ours relative to the peer".
FLOOR_NAIVE_SPEEDUP = 50.0  # ours at least 50x faster than the naive trainer
FLOOR_HF_SLOWDOWN = 3.0  # ours at most 3x slower than `tokenizers`
FLOOR_TIKTOKEN_FRACTION = 0.2  # ours (cold cache) at least 1/5 of tiktoken's MB/s

FULL_VOCAB_SIZES = (1024, 4096)
QUICK_VOCAB_SIZES = (320, 512)
QUICK_CHARS = 20_000  # --quick trains and encodes the first 20k characters only
DEFAULT_NAIVE_CAP_S = {False: 240.0, True: 2.0}  # full run, --quick
DEFAULT_REPEATS = {False: 5, True: 2}

START_MARK, END_MARK = markers("tokenizer")


# ---------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults depend on --quick."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: first {QUICK_CHARS:,} characters of each corpus, "
        f"vocab sizes {QUICK_VOCAB_SIZES}",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="best-of-N repeats for the fast measurements "
        f"(default {DEFAULT_REPEATS[False]}; {DEFAULT_REPEATS[True]} with --quick)",
    )
    p.add_argument(
        "--naive-cap",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock cap for the naive trainer above --naive-full-upto "
        f"(default {DEFAULT_NAIVE_CAP_S[False]:g}; "
        f"{DEFAULT_NAIVE_CAP_S[True]:g} with --quick)",
    )
    p.add_argument(
        "--naive-full-upto",
        type=int,
        default=None,
        metavar="VOCAB",
        help="run the naive trainer to completion, uncapped, at vocab sizes up "
        "to this (default: the smaller vocab size; 0 caps every run)",
    )
    p.add_argument(
        "--shakespeare",
        type=Path,
        default=DEFAULT_SHAKESPEARE,
        help="path to tinyshakespeare.txt (default: ../shared/data/)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="Markdown file whose tokenizer section is (re)written",
    )
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="JSON file for the raw numbers")
    p.add_argument(
        "--allow-dirty",
        action="store_true",
        help="run on a tree with uncommitted changes (a local experiment: the results are "
        "marked as not publishable)",
    )
    args = p.parse_args(argv)
    args.vocab_sizes = QUICK_VOCAB_SIZES if args.quick else FULL_VOCAB_SIZES
    if args.repeats is None:
        args.repeats = DEFAULT_REPEATS[args.quick]
    if args.naive_cap is None:
        args.naive_cap = DEFAULT_NAIVE_CAP_S[args.quick]
    if args.naive_full_upto is None:
        args.naive_full_upto = min(args.vocab_sizes)
    if args.repeats < 1 or args.naive_cap <= 0:
        p.error("--repeats must be >= 1 and --naive-cap > 0")
    return args


def load_corpora(shakespeare: Path, quick: bool) -> dict[str, str]:
    """{display name: text}; with `quick`, only the first QUICK_CHARS characters."""
    if not shakespeare.is_file():
        sys.exit(f"error: {shakespeare} not found (pass --shakespeare PATH)")
    corpora = {
        "Tiny Shakespeare": shakespeare.read_text(encoding="utf-8"),
        "default corpus": default_corpus(),
    }
    if quick:
        corpora = {name: text[:QUICK_CHARS] for name, text in corpora.items()}
    return corpora


# ------------------------------------------------------------------- timing
def timed(fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    """Run `fn(*args)` once; return (seconds by time.perf_counter, result).

    Garbage from earlier work is collected first so it is not billed to `fn`;
    the collector stays on during the call, as it would in real use.
    """
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def check_identical(ours: list[int], theirs: list[int], what: str) -> None:
    """Stop the benchmark if two encoders disagree (a speed of wrong ids is meaningless)."""
    if ours != theirs:
        first = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs))
        )
        raise AssertionError(
            f"{what}: ids differ (lengths {len(ours)} vs {len(theirs)}, "
            f"first difference at position {first})"
        )


# ----------------------------------------------------------------- training
def bench_training(text: str, vocab_size: int, repeats: int) -> tuple[dict[str, Any], BPETokenizer]:
    """Training time for ours and `tokenizers`, `repeats` times each, interleaved.

    Returns the row (every repeat, its best, median and slowest) and our trained tokenizer.
    """
    times: dict[str, list[float]] = {"ours": [], "tokenizers": []}
    ours_tok: BPETokenizer | None = None
    hf_vocab = 0
    for r in range(repeats):
        order = ["ours", "tokenizers"] if r % 2 == 0 else ["tokenizers", "ours"]
        for peer in order:
            if peer == "ours":
                seconds, ours_tok = timed(lambda: BPETokenizer.train(text, vocab_size))
            else:
                seconds, hf = timed(lambda: train_hf_bpe([text], vocab_size))
                hf_vocab = hf.get_vocab_size()
            times[peer].append(seconds)
    assert ours_tok is not None
    ours_s, hf_s = min(times["ours"]), min(times["tokenizers"])
    row = {
        "vocab_size": vocab_size,
        "num_merges": vocab_size - 256,
        "ours_vocab_size": ours_tok.vocab_size,
        "tokenizers_vocab_size": hf_vocab,
        "ours_s": ours_s,
        "tokenizers_s": hf_s,
        "ours_all_s": times["ours"],
        "tokenizers_all_s": times["tokenizers"],
        "ours_spread_s": spread(times["ours"]),
        "tokenizers_spread_s": spread(times["tokenizers"]),
        "ours_over_tokenizers": ours_s / hf_s,
    }
    met = ours_s / hf_s <= FLOOR_HF_SLOWDOWN
    row["floor_tokenizers"] = "met" if met else "not met"
    return row, ours_tok


def _naive_worker(conn: Any, text: str, num_merges: int, pattern: str) -> None:
    """Worker process: train naively and send back (wall seconds, CPU seconds, merges)."""
    conn.send("started")
    start, cpu_start = time.perf_counter(), time.process_time()
    merges = train_naive([text], num_merges, pattern)
    conn.send((time.perf_counter() - start, time.process_time() - cpu_start, merges))
    conn.close()


def run_naive(
    text: str, num_merges: int, cap_s: float | None, tick: Callable[[float], None]
) -> dict[str, Any]:
    """Run `train_naive` once in a worker process, killed after `cap_s` seconds if set.

    The clock starts when the worker reports it has started (its imports are
    not counted). `tick(elapsed)` is called about every few seconds for progress.
    Returns {"status": "completed", "seconds", "cpu_seconds", "merges"} or
    {"status": "capped"}.
    """
    ctx = mp.get_context("spawn")  # a clean process: no inherited threads or caches
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_naive_worker, args=(send, text, num_merges, GPT4_SPLIT_PATTERN))
    proc.start()
    send.close()
    try:
        if not recv.poll(300) or recv.recv() != "started":
            raise RuntimeError("naive worker did not start")
        start = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - start
            if cap_s is not None and elapsed >= cap_s:
                return {"status": "capped"}
            wait = 5.0 if cap_s is None else min(5.0, cap_s - elapsed)
            if recv.poll(wait):
                seconds, cpu_seconds, merges = recv.recv()
                return {
                    "status": "completed",
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    "merges": merges,
                }
            if not proc.is_alive() and not recv.poll():
                raise RuntimeError(f"naive worker died (exit code {proc.exitcode})")
            tick(time.perf_counter() - start)
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()
        recv.close()


def add_naive(
    row: dict[str, Any],
    text: str,
    ours_tok: BPETokenizer,
    cap_s: float | None,
    tick: Callable[[float], None],
) -> None:
    """Time the naive trainer for one training row and fill in its columns."""
    result = run_naive(text, row["num_merges"], cap_s, tick)
    row["naive_cap_s"] = cap_s
    row["naive_status"] = result["status"]
    if result["status"] == "completed":
        row["naive_s"] = result["seconds"]
        row["naive_cpu_s"] = result["cpu_seconds"]
        row["naive_over_ours"] = result["seconds"] / row["ours_s"]
        row["naive_ratio_is_lower_bound"] = False
        ours_merges = [(m.pair, m.count) for m in ours_tok.merges]
        row["naive_merges_identical"] = [(tuple(p), c) for p, c in result["merges"]] == ours_merges
    else:
        # It ran for at least cap_s seconds without finishing: a lower bound only.
        assert cap_s is not None
        row["naive_s"] = row["naive_cpu_s"] = None
        row["naive_over_ours"] = cap_s / row["ours_s"]
        row["naive_ratio_is_lower_bound"] = True
        row["naive_merges_identical"] = None
    if row["naive_over_ours"] >= FLOOR_NAIVE_SPEEDUP:
        row["floor_naive"] = "met"
    else:  # a lower bound under the floor proves nothing either way
        row["floor_naive"] = "inconclusive" if row["naive_ratio_is_lower_bound"] else "not met"


# ----------------------------------------------------------------- encoding
def bench_encoding(text: str, tok: BPETokenizer, repeats: int) -> dict[str, Any]:
    """Encoding time, `repeats` times each: ours cold, ours warm, tiktoken; ids must agree.

    "Cold": a fresh `BPETokenizer` each repeat, so its per-pre-token cache is
    empty. "Warm": the same instance encoding the same text again. The
    tiktoken `Encoding` is built once and reused (it keeps no per-piece cache).
    """
    encoding = to_tiktoken(tok)
    times: dict[str, list[float]] = {"ours_cold": [], "ours_warm": [], "tiktoken": []}
    n_tokens = 0
    for r in range(repeats):
        fresh = BPETokenizer(tok.ranks, tok.pattern, tok.special_tokens)  # built off the clock
        ids: dict[str, list[int]] = {}
        order = ["ours", "tiktoken"] if r % 2 == 0 else ["tiktoken", "ours"]
        for peer in order:
            if peer == "ours":
                seconds, ids["ours_cold"] = timed(fresh.encode_ordinary, text)
                times["ours_cold"].append(seconds)
                seconds, ids["ours_warm"] = timed(fresh.encode_ordinary, text)
                times["ours_warm"].append(seconds)
            else:
                seconds, ids["tiktoken"] = timed(encoding.encode_ordinary, text)
                times["tiktoken"].append(seconds)
        check_identical(ids["ours_cold"], ids["tiktoken"], "ours (cold) vs tiktoken")
        check_identical(ids["ours_warm"], ids["tiktoken"], "ours (warm) vs tiktoken")
        n_tokens = len(ids["tiktoken"])

    n_bytes = len(text.encode("utf-8"))
    best = {peer: min(ts) for peer, ts in times.items()}
    row: dict[str, Any] = {
        "vocab_size": tok.vocab_size,
        "bytes": n_bytes,
        "tokens": n_tokens,
        "ids_identical": True,
    }  # check_identical raised otherwise
    for peer, seconds in best.items():
        row[f"{peer}_s"] = seconds
        row[f"{peer}_all_s"] = times[peer]
        row[f"{peer}_spread_s"] = spread(times[peer])
        row[f"{peer}_mb_per_s"] = n_bytes / seconds / 1e6
    row["ours_cold_over_tiktoken"] = row["ours_cold_mb_per_s"] / row["tiktoken_mb_per_s"]
    row["ours_warm_over_tiktoken"] = row["ours_warm_mb_per_s"] / row["tiktoken_mb_per_s"]
    row["floor_tiktoken"] = (
        "met" if row["ours_cold_over_tiktoken"] >= FLOOR_TIKTOKEN_FRACTION else "not met"
    )
    return row


# ------------------------------------------------------------------ machine
def machine_info() -> dict[str, Any]:
    """The shared machine facts plus the peers' versions, for the report header."""
    return {
        **_report.machine_info(),
        "tiktoken": metadata.version("tiktoken"),  # tiktoken < 0.8 has no __version__
        "tokenizers": metadata.version("tokenizers"),
        "rayon_num_threads": os.environ.get("RAYON_NUM_THREADS"),
    }


# ------------------------------------------------------------------- report
def fmt_ratio(x: float) -> str:
    """Ratios: two decimals below 10, one up to 100, none above."""
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_spread_s(s: dict[str, Any]) -> str:
    """Seconds over the repeats: "best / median / slowest"."""
    return f"{s['best']:.3f} / {s['median']:.3f} / {s['max']:.3f}"


def fmt_spread_mb(n_bytes: int, s: dict[str, Any]) -> str:
    """MB/s over the repeats, from the best, median and slowest time."""
    return " / ".join(f"{n_bytes / s[k] / 1e6:.2f}" for k in ("best", "median", "max"))


def render_markdown(results: dict[str, Any]) -> str:
    """The tokenizer section of RESULTS.md, from the raw results only."""
    m, s = results["machine"], results["settings"]
    lines = [START_MARK, "## Tokenizer", ""]
    if not results["publishable"] and not s["quick"]:
        lines += [
            '!!! danger "Not publishable"',
            "    Measured with `--allow-dirty` on a tree with uncommitted changes: no commit "
            "names the code these numbers measured.",
            "",
        ]
    if s["quick"]:
        lines += [
            '!!! warning "Quick smoke run"',
            f"    Made with `--quick`: {QUICK_CHARS:,}-character slices and small "
            "vocabularies. These numbers only show that the script works.",
            "",
        ]
    corpora = ", ".join(f"{name} ({n:,} bytes of UTF-8)" for name, n in results["corpora"].items())
    load = results["load_average_1min"]
    lines += [
        f"Byte-level BPE (`groundup.tokenizer`) against named peers, measured by "
        f"`benchmarks/bench_tokenizer.py` in one run on {results['date']}.",
        "",
        "| Setup | |",
        "|---|---|",
        f"| CPU | {m['cpu']} ({m['usable_cores']} cores usable, {m['logical_cores']} logical) |",
        f"| Python | {m['python']} on {m['platform']} |",
        f"| Peers | tiktoken {m['tiktoken']}, Hugging Face tokenizers {m['tokenizers']} |",
        f"| groundup commit | {commit_cell(results)} |",
        f"| Corpora | {corpora} |",
        f"| Load average (1 min): start / highest sampled / end | {load['start']:.2f} / "
        f"{load['peak']:.2f} / {load['end']:.2f} |",
        f"| Wall time of the whole run | {results['wall_s'] / 60:.1f} min |",
        "",
        "**How it was measured.** Everything runs on one thread: tiktoken's "
        "`encode_ordinary` is single-threaded, and `tokenizers` runs with "
        "`RAYON_NUM_THREADS=1`, set before it is imported. "
        f"Fast timings are repeated {s['repeats']} times (`time.perf_counter`), "
        "with the peers interleaved and their order swapped on every repeat; the tables "
        "give the best, the median and the slowest repeat (*best / median / slowest*), "
        "and the ratios use the best, the least disturbed by other processes. "
        "Ours and `tokenizers` use the same GPT-4 split pattern. "
        "The naive trainer (recount every pair after every merge) is timed once per row "
        f"in a worker process: to completion at vocab ≤ {s['naive_full_upto']}, and "
        f"killed after {s['naive_cap_s']:g} s above that, where the ratio is only a "
        "lower bound (≥) and is not extrapolated. "
        "Encoding speed is MB/s of UTF-8 input (1 MB = 10⁶ bytes); each corpus is "
        "encoded with the tokenizer trained on it at that vocab size. "
        "*Cold* is a fresh tokenizer (empty per-pre-token cache) on every repeat; "
        "*warm* encodes the same text again with the same instance. "
        "Every encoding was checked to give ids identical to tiktoken's. "
        f"Other processes on the machine add noise; the load averages above (a load above "
        f"{m['usable_cores']} means processes were waiting for a core) show how much.",
        "",
        "### Training time",
        "",
        "Each timing cell is *best / median / slowest* of the repeats, in seconds.",
        "",
        "| Corpus | Vocab | Ours (s) | tokenizers (s) | Ours ÷ tokenizers "
        f"| Floor: ≤ {FLOOR_HF_SLOWDOWN:g}× slower |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for r in results["training"]:
        lines.append(
            f"| {r['corpus']} | {r['vocab_size']} | {fmt_spread_s(r['ours_spread_s'])} "
            f"| {fmt_spread_s(r['tokenizers_spread_s'])} "
            f"| {fmt_ratio(r['ours_over_tokenizers'])}× | {r['floor_tokenizers']} |"
        )
    lines += [
        "",
        "Against the naive trainer (one timed run per row):",
        "",
        "| Corpus | Vocab | Naive (s) | Naive ÷ ours | Same merges as naive "
        f"| Floor: ≥ {FLOOR_NAIVE_SPEEDUP:g}× faster |",
        "|---|--:|--:|--:|---|---|",
    ]
    for r in results["training"]:
        if r["naive_ratio_is_lower_bound"]:
            naive = f"> {r['naive_cap_s']:g} (stopped at cap)"
            naive_ratio = f"≥ {fmt_ratio(r['naive_over_ours'])}× (lower bound)"
            same = "n/a (capped)"
        else:
            naive = f"{r['naive_s']:.3f}"
            naive_ratio = f"{fmt_ratio(r['naive_over_ours'])}×"
            same = "yes" if r["naive_merges_identical"] else "**NO**"
        lines.append(
            f"| {r['corpus']} | {r['vocab_size']} | {naive} | {naive_ratio} | {same} "
            f"| {r['floor_naive']} |"
        )
    completed = [r for r in results["training"] if not r["naive_ratio_is_lower_bound"]]
    if completed:
        parts = [
            f"{r['corpus']} {r['vocab_size']}: {r['naive_s']:.1f} s wall, "
            f"{r['naive_cpu_s']:.1f} s CPU, load peak {r['naive_load_peak']:.1f}"
            for r in completed
        ]
        lines += [
            "",
            "The naive ratios use wall time; where the machine was busy, part of it was "
            "spent waiting for a core (CPU time of the naive worker, and the highest load "
            f"average sampled while it ran: {'; '.join(parts)}).",
        ]
    lines += [
        "",
        "### Encoding throughput",
        "",
        "Each throughput cell is *best / median / slowest* of the repeats, in MB/s.",
        "",
        "| Corpus | Vocab | Tokens | Ours, cold (MB/s) | Ours, warm (MB/s) | tiktoken (MB/s) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for r in results["encoding"]:
        lines.append(
            f"| {r['corpus']} | {r['vocab_size']} | {r['tokens']:,} "
            f"| {fmt_spread_mb(r['bytes'], r['ours_cold_spread_s'])} "
            f"| {fmt_spread_mb(r['bytes'], r['ours_warm_spread_s'])} "
            f"| {fmt_spread_mb(r['bytes'], r['tiktoken_spread_s'])} |"
        )
    lines += [
        "",
        "| Corpus | Vocab | Ours cold ÷ tiktoken | Ours warm ÷ tiktoken | Ids identical "
        f"| Floor: cold ≥ {FLOOR_TIKTOKEN_FRACTION:g} × tiktoken |",
        "|---|--:|--:|--:|---|---|",
    ]
    for r in results["encoding"]:
        lines.append(
            f"| {r['corpus']} | {r['vocab_size']} "
            f"| {fmt_ratio(r['ours_cold_over_tiktoken'])} "
            f"| {fmt_ratio(r['ours_warm_over_tiktoken'])} "
            f"| {'yes' if r['ids_identical'] else '**NO**'} | {r['floor_tiktoken']} |"
        )
    lines += ["", "### Summary", ""]
    lines += [f"- {line}" for line in summary_lines(results)]
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One honest line per floor: met or not, in how many rows, with the numbers."""

    def verdict(statuses: list[str]) -> str:
        """The floor's verdict over the rows, and how many rows met it."""
        met = f"met in {statuses.count('met')} of {len(statuses)} rows"
        if all(st == "met" for st in statuses):
            return f"**{met}**"
        return f"**{'not met' if 'not met' in statuses else 'not shown'}**: {met}"

    train, enc = results["training"], results["encoding"]
    out = []

    statuses = [r["floor_naive"] for r in train]
    parts = []
    for r in train:
        bound = "≥ " if r["naive_ratio_is_lower_bound"] else ""
        parts.append(f"{r['corpus']} {r['vocab_size']}: {bound}{fmt_ratio(r['naive_over_ours'])}×")
    capped = sum(r["naive_ratio_is_lower_bound"] for r in train)
    note = (
        f" ({capped} of {len(train)} are lower bounds: naive did not finish within "
        f"{results['settings']['naive_cap_s']:g} s)"
        if capped
        else ""
    )
    out.append(
        f"Ours ≥ {FLOOR_NAIVE_SPEEDUP:g}× faster than naive training: "
        f"{verdict(statuses)}; {'; '.join(parts)}{note}."
    )

    statuses = [r["floor_tokenizers"] for r in train]
    parts = [
        f"{r['corpus']} {r['vocab_size']}: {fmt_ratio(r['ours_over_tokenizers'])}× "
        f"({r['ours_s']:.3f} s vs {r['tokenizers_s']:.3f} s)"
        for r in train
    ]
    out.append(
        f"Ours ≤ {FLOOR_HF_SLOWDOWN:g}× slower than `tokenizers` training: "
        f"{verdict(statuses)}; {'; '.join(parts)}."
    )

    statuses = [r["floor_tiktoken"] for r in enc]
    parts = [
        f"{r['corpus']} {r['vocab_size']}: {fmt_ratio(r['ours_cold_over_tiktoken'])} "
        f"({r['ours_cold_mb_per_s']:.2f} vs {r['tiktoken_mb_per_s']:.2f} MB/s; "
        f"warm {fmt_ratio(r['ours_warm_over_tiktoken'])})"
        for r in enc
    ]
    out.append(
        f"Ours (cold cache) ≥ {FLOOR_TIKTOKEN_FRACTION:g} × tiktoken's encoding "
        f"throughput: {verdict(statuses)}; "
        f"{'; '.join(parts)}."
    )

    out.append(
        "Ids identical to tiktoken's in every encoding: "
        f"{'yes' if all(r['ids_identical'] for r in enc) else '**NO**'}."
    )
    return out


# --------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    git = git_state()  # before writing anything, so the commit state is the code's
    check_publishable(git, args.allow_dirty, "measure")
    run_start = time.perf_counter()
    load = LoadMonitor()
    load_start = load.sample()
    machine = machine_info()
    corpora = load_corpora(args.shakespeare, args.quick)

    jobs = [(name, v) for name in corpora for v in args.vocab_sizes]
    bar = tqdm(total=3 * len(jobs), unit="step", file=sys.stderr, dynamic_ncols=True)

    def log(msg: str) -> None:
        load.sample()
        tqdm.write(msg, file=sys.stdout)
        sys.stdout.flush()

    # 1. Fast peers: training (ours vs tokenizers), then encoding with our tokenizer.
    training: list[dict[str, Any]] = []
    encoding: list[dict[str, Any]] = []
    trained: dict[tuple[str, int], BPETokenizer] = {}
    for name, vocab in jobs:
        text = corpora[name]
        bar.set_description(f"train {name} {vocab}")
        row, tok = bench_training(text, vocab, args.repeats)
        row = {"corpus": name, **row}
        training.append(row)
        trained[name, vocab] = tok
        bar.update()
        log(
            f"train  {name:16} {vocab:5}: ours {row['ours_s']:.3f} s, "
            f"tokenizers {row['tokenizers_s']:.3f} s ({fmt_ratio(row['ours_over_tokenizers'])}x)"
        )

        bar.set_description(f"encode {name} {vocab}")
        erow = {"corpus": name, **bench_encoding(text, tok, args.repeats)}
        encoding.append(erow)
        bar.update()
        log(
            f"encode {name:16} {vocab:5}: ours cold {erow['ours_cold_mb_per_s']:.2f} MB/s, "
            f"warm {erow['ours_warm_mb_per_s']:.2f} MB/s, tiktoken "
            f"{erow['tiktoken_mb_per_s']:.2f} MB/s, ids identical"
        )

    # 2. The naive trainer, one worker at a time (two cores: nothing else runs meanwhile).
    for row in training:
        name, vocab = row["corpus"], row["vocab_size"]
        cap = None if vocab <= args.naive_full_upto else args.naive_cap
        bar.set_description(f"naive {name} {vocab}" + (f" (cap {cap:g} s)" if cap else ""))
        first_sample = len(load.samples)
        load.sample()

        def tick(elapsed: float) -> None:
            bar.set_postfix_str(f"{elapsed:.0f} s, load {load.sample():.1f}", refresh=True)

        add_naive(row, corpora[name], trained[name, vocab], cap, tick)
        row["naive_load_peak"] = max(load.sample(), load.peak_since(first_sample))
        bar.set_postfix_str("")
        bar.update()
        if row["naive_ratio_is_lower_bound"]:
            log(
                f"naive  {name:16} {vocab:5}: not done in {cap:g} s -> "
                f">= {fmt_ratio(row['naive_over_ours'])}x ours"
            )
        else:
            log(
                f"naive  {name:16} {vocab:5}: {row['naive_s']:.3f} s -> "
                f"{fmt_ratio(row['naive_over_ours'])}x ours, same merges: "
                f"{row['naive_merges_identical']}"
            )
    bar.close()

    results: dict[str, Any] = {
        **run_facts(machine, load, load_start, run_start, git, args.quick),
        "settings": {
            "quick": args.quick,
            "repeats": args.repeats,
            "vocab_sizes": list(args.vocab_sizes),
            "naive_cap_s": args.naive_cap,
            "naive_full_upto": args.naive_full_upto,
            "pattern": GPT4_SPLIT_PATTERN,
        },
        "floors": {
            "naive_over_ours_min": FLOOR_NAIVE_SPEEDUP,
            "ours_over_tokenizers_max": FLOOR_HF_SLOWDOWN,
            "ours_cold_over_tiktoken_min": FLOOR_TIKTOKEN_FRACTION,
        },
        "corpora": {name: len(text.encode("utf-8")) for name, text in corpora.items()},
        "training": training,
        "encoding": encoding,
    }
    save_results(
        results,
        name="tokenizer",
        json_path=args.json,
        md_path=args.output,
        render=render_markdown,
        summary=summary_lines,
        log=log,
        allow_dirty=args.allow_dirty,
    )


if __name__ == "__main__":
    exit_on_dirty_tree(main)
