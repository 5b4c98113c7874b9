"""The benchmarks page's code: peak attention memory measured on CPU, and the
published results of the benchmark scripts, read, checked and summarised.

Part 1, memory. Peak memory of one forward (or forward + backward) pass, measured on CPU.

Explicit attention builds the whole (B, H, T, T) score matrix, and softmax makes
another one, so its memory grows with T²; PyTorch's fused SDPA kernel walks over
the keys in blocks and never holds the full matrix. This module measures that
difference for real, as the operating system sees it.

The method (`measure_peak_rss`), for one step `fn` in the current process:

1. collect garbage and hand freed heap memory back to the OS (`malloc_trim`),
   then read the resident set size (RSS, from `/proc/self/statm`);
2. reset the process's peak-RSS high-water mark (write ``5`` to
   `/proc/self/clear_refs`, Linux 4.0+), so the peak counts from this moment;
3. run `fn`, keeping its result alive;
4. read the peak RSS (`VmHWM`, which the reset cleared) and subtract the RSS
   of step 1.

Why `VmHWM` and not `getrusage(RUSAGE_SELF).ru_maxrss`: ru_maxrss is the larger
of this process's peak and a peak kept from before its `exec`; a child started
by `subprocess` (vfork + exec) inherits its *parent's* peak RSS that way, which
no reset clears. A parent holding 350 MB made every small measurement read as
about 100 MB.

The difference is the *extra* memory the step needed at its worst moment: model
and inputs are already in the baseline, activations, scores, gradients and
allocator overhead are in the extra. Where the high-water mark cannot be reset,
the peak is the process's peak since it started, and an extra peak smaller than
`floor_bytes` (that old peak minus the baseline) is invisible; the result says so.

`attention_peak_memory` runs one such measurement in a fresh Python process
(nothing left over from earlier measurements: no warm caches, no freed-but-kept
heap), with glibc's mmap threshold pinned (`MALLOC_MMAP_THRESHOLD_`) so large
tensors are returned to the OS as soon as they are freed. Before measuring, the
child runs the same step once at a short length, so one-time setup (kernel
selection, lazily created buffers) is not billed to the measurement.

Part 2, published results. `load_published` reads a results JSON written by a
script in `benchmarks/` and refuses (UnpublishableResults) one measured on a tree
with uncommitted changes, outside git, with `--quick`, or whose repeats' spread
is inconsistent. `time_ratio` turns two peers' repeated timings into the ratio a
section of the page leads with, with its spread; `results_section` takes a
script's section of RESULTS.md, checked against its JSON; `ratio_chart` draws
the ratios.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from groundup.model.config import GPTConfig

R = TypeVar("R")

MB = 1e6  # the reports use decimal megabytes
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# glibc's default initial mmap threshold (128 KiB), pinned: setting it turns off
# glibc's dynamic threshold, which otherwise rises after frees and lets big
# tensors land on the heap, where freed memory may stay resident.
MMAP_THRESHOLD = 128 * 1024
WARMUP_SEQ_LEN = 16


@dataclass(frozen=True)
class PeakMemory:
    """One measurement of a step's peak memory, in bytes."""

    extra_bytes: int  # peak RSS during the step minus the RSS just before it
    rss_before_bytes: int  # the baseline: RSS after setup, just before the step
    peak_rss_bytes: int  # the peak RSS while the step ran
    reset: bool  # True: the high-water mark was reset before the step
    floor_bytes: int  # extra peaks below this are invisible (0 when reset)
    seconds: float  # wall time of the step

    @property
    def extra_mb(self) -> float:
        return self.extra_bytes / MB


# ------------------------------------------------------------------ in-process
def _rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * _PAGE


def _hwm_bytes() -> int:
    """Peak RSS of this process's memory since exec or since the last reset (`VmHWM`)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _reset_peak() -> bool:
    """Reset this process's peak-RSS mark; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """Ask glibc to give freed heap memory back to the OS (no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def measure_peak_rss(fn: Callable[[], R]) -> tuple[PeakMemory, R]:
    """Run `fn` once in this process and return (its peak extra memory, its result).

    Contract: `extra_bytes` is the peak RSS while `fn` ran minus the RSS just
    before it, so memory `fn` touches and still holds, or touches and frees, is
    counted at its high point; memory that existed before is not. Its result is
    kept alive until the peak is read. Linux only (`/proc`). Run it in a fresh
    process (see `attention_peak_memory`) for numbers that do not depend on what
    ran before.
    """
    gc.collect()
    _trim_heap()
    before = _rss_bytes()
    reset = _reset_peak()
    floor = 0 if reset else max(0, _hwm_bytes() - before)
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = max(_hwm_bytes(), _rss_bytes())
    return PeakMemory(max(0, peak - before), before, peak, reset, floor, seconds), result


# ---------------------------------------------------------------- in the child
def _model_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the model and inputs the spec describes, warm up, measure one step."""
    import torch

    from groundup.model.gpt import GPT

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    T, B = spec["seq_len"], spec["batch"]
    config = GPTConfig(**spec["config"])
    config = config.replace(block_size=max(config.block_size, T), dropout=0.0)
    model = GPT(config)
    ids = torch.randint(0, config.vocab_size, (B, T + 1))
    x, y = ids[:, :-1], ids[:, 1:]

    def step(x: torch.Tensor, y: torch.Tensor) -> Any:
        if spec["backward"]:
            model.train()
            model.zero_grad(set_to_none=True)
            _, loss = model(x, y)
            loss.backward()
            return loss.detach()
        model.eval()
        with torch.no_grad():
            return model(x)[0]

    warm = min(WARMUP_SEQ_LEN, T)
    step(x[:, :warm], y[:, :warm])
    model.zero_grad(set_to_none=True)  # gradients come back inside the measured step
    result, _ = measure_peak_rss(lambda: step(x, y))
    return asdict(result)


def _child_main() -> None:
    """Entry point of the measuring subprocess: spec JSON in argv[1], result JSON out."""
    spec = json.loads(sys.argv[1])
    print("PEAK_MEMORY " + json.dumps(_model_step(spec)), flush=True)


# ------------------------------------------------------------------ public API
def attention_matrix_bytes(config: GPTConfig, seq_len: int, batch: int = 1) -> int:
    """Size of one float32 (B, H, T, T) attention-score matrix of one layer."""
    return 4 * batch * config.n_head * seq_len * seq_len


def attention_peak_memory(
    config: GPTConfig,
    seq_len: int,
    batch: int = 1,
    backward: bool = False,
    threads: int = 1,
    seed: int = 0,
    timeout: float = 600.0,
) -> PeakMemory:
    """Peak extra memory of one step of `GPT(config)` at length `seq_len`, measured
    in a fresh Python process.

    The step is one forward pass in eval mode under `torch.no_grad()`, or, with
    `backward=True`, a forward pass with the loss in train mode followed by
    `loss.backward()` (no optimizer). `config.attention` picks explicit attention
    or SDPA; `block_size` is raised to `seq_len` if needed and dropout set to 0.
    The baseline (not counted) holds the interpreter, torch, the model and the
    (batch, seq_len) inputs. Raises RuntimeError if the child fails.
    """
    spec = {
        "config": {k: v for k, v in asdict(config).items()},
        "seq_len": seq_len,
        "batch": batch,
        "backward": backward,
        "threads": threads,
        "seed": seed,
    }
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
        "OMP_NUM_THREADS": str(threads),
    }
    code = "from groundup.pages.benchmarks import _child_main; _child_main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEAK_MEMORY ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"memory measurement failed (exit {proc.returncode}) for "
            f"{spec}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return PeakMemory(**json.loads(lines[-1].removeprefix("PEAK_MEMORY ")))


def attention_memory_sweep(
    config: GPTConfig,
    seq_lens: Sequence[int],
    attentions: Iterable[str] = ("explicit", "sdpa"),
    batch: int = 1,
    backward: bool = False,
    workers: int = 2,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """`attention_peak_memory` for each attention implementation and length.

    Each measurement is its own process; `workers` of them run at once (RSS is
    per process, so running side by side does not change the numbers, only the
    wall time). Returns one row per (attention, seq_len), in that order, with the
    `PeakMemory` fields plus `attention`, `seq_len`, `batch`, `backward` and
    `score_matrix_bytes` (one layer's (B, H, T, T) float32 scores).
    """
    jobs = [(a, t) for a in attentions for t in seq_lens]

    def run(job: tuple[str, int]) -> dict[str, Any]:
        attention, t = job
        m = attention_peak_memory(
            config.replace(attention=attention), t, batch=batch, backward=backward, threads=threads
        )
        return {
            "attention": attention,
            "seq_len": t,
            "batch": batch,
            "backward": backward,
            "score_matrix_bytes": attention_matrix_bytes(config, t, batch),
            **asdict(m),
        }

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(run, jobs))


# ---------------------------------------------------------- published results
class UnpublishableResults(ValueError):
    """A results file the site must not show: not measured on a clean commit, a
    --quick smoke run, or with repeats that do not add up."""


def check_spreads(results: Any, where: str = "results") -> int:
    """Check every `*_spread_s` entry (recursively) against the repeats beside it:
    best <= median <= max, and, where the raw list `*_all_s` / `*_step_s_all` is
    present, that they are its min, median and max and `n` its length. Returns
    how many spreads were checked; raises UnpublishableResults on a mismatch."""
    count = 0
    if isinstance(results, list):
        return sum(check_spreads(x, f"{where}[{i}]") for i, x in enumerate(results))
    if not isinstance(results, dict):
        return 0
    for key, value in results.items():
        if key.endswith("_spread_s"):
            s = value
            if not s["best"] <= s["median"] <= s["max"] or s["n"] < 1:
                raise UnpublishableResults(f"{where}.{key}: best <= median <= max fails: {s}")
            stem = key.removesuffix("_spread_s")
            raw = results.get(f"{stem}_all_s", results.get(f"{stem}_s_all"))
            if raw is not None and (
                len(raw) != s["n"]
                or min(raw) != s["best"]
                or max(raw) != s["max"]
                or statistics.median(raw) != s["median"]
            ):
                raise UnpublishableResults(f"{where}.{key} does not summarise its repeats")
            count += 1
        else:
            count += check_spreads(value, f"{where}.{key}")
    return count


def load_published(path: Path) -> dict[str, Any]:
    """The results JSON at `path`, if the site may show it; else UnpublishableResults.

    Publishable: measured at a known commit on a clean tree (`git.dirty` false),
    not `--quick`, marked `publishable` by the script, and with at least one
    spread of repeats, each consistent with its raw timings (`check_spreads`).
    """
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    git = results.get("git")
    if not git or not git.get("commit"):
        raise UnpublishableResults(f"{path}: no commit recorded; rerun the benchmark")
    if git.get("dirty") is not False:
        raise UnpublishableResults(
            f"{path}: measured on commit {git['commit'][:7]} with uncommitted changes "
            f"({', '.join(git.get('changes', [])[:5])}); rerun the benchmark on a clean tree"
        )
    if results["settings"]["quick"]:
        raise UnpublishableResults(f"{path}: a --quick smoke run, not a measurement")
    if results.get("publishable") is not True:
        raise UnpublishableResults(f"{path}: the script marked these results not publishable")
    if check_spreads(results) == 0:
        raise UnpublishableResults(f"{path}: no spread of repeats recorded; rerun the benchmark")
    return results


@dataclass(frozen=True)
class Ratio:
    """How many times one peer's time is another's, over paired repeats.

    `best` is the ratio of the two best times (the least disturbed by other
    processes), `median` the ratio of the medians, `low` and `high` the smallest
    and largest ratio of a pair of repeats measured back to back, `n` the pairs.
    """

    best: float
    median: float
    low: float
    high: float
    n: int


def time_ratio(numerator_s: Sequence[float], denominator_s: Sequence[float]) -> Ratio:
    """`numerator_s` over `denominator_s`: two peers' times, repeat i of one measured
    beside repeat i of the other (same length, all > 0)."""
    if len(numerator_s) != len(denominator_s) or not numerator_s:
        raise ValueError("need the same number (>= 1) of repeats for both peers")
    if min(numerator_s) <= 0 or min(denominator_s) <= 0:
        raise ValueError("times must be positive")
    paired = [a / b for a, b in zip(numerator_s, denominator_s, strict=True)]
    return Ratio(
        best=min(numerator_s) / min(denominator_s),
        median=statistics.median(numerator_s) / statistics.median(denominator_s),
        low=min(paired),
        high=max(paired),
        n=len(paired),
    )


def find_row(rows: Iterable[dict[str, Any]], **match: Any) -> dict[str, Any]:
    """The one row whose fields equal `match` (KeyError if none)."""
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    raise KeyError(f"no row with {match}")


def results_section(md_path: Path, name: str, results: dict[str, Any]) -> str:
    """Section `name` of RESULTS.md without its markers and its `## ` title, after
    checking that it reports the same run (date and clean commit) as `results`."""
    text = Path(md_path).read_text(encoding="utf-8")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise UnpublishableResults(f"{md_path}: no {name} section")
    body = text.split(start, 1)[1].split(end, 1)[0].strip("\n")
    lines = body.splitlines()
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
    body = "\n".join(lines).strip("\n")
    commit = f"{results['git']['commit'][:7]} (clean tree)"
    if results["date"] not in body or commit not in body:
        raise UnpublishableResults(
            f"{md_path}: the {name} section is not the run in its JSON "
            f"({results['date']}, {commit}); rerun the benchmark"
        )
    return body


def ratio_chart(
    panels: Sequence[tuple[str, Sequence[str], Sequence[Ratio]]],
    xlabel: str,
    alt: str,
    width: float = 7.0,
) -> str:
    """One panel per (title, row labels, ratios): for each row a dot at the
    best-vs-best ratio, a diamond at the median-vs-median ratio and a line over the
    range of the paired repeats; a dashed line marks 1 (the two peers level).
    Returns the inline SVG (see `groundup.pages.plots.to_svg`)."""
    from groundup.pages.plots import figure, to_svg

    rows = max(len(labels) for _, labels, _ in panels)
    fig, axes = figure(width=width, height=1.2 + 0.5 * rows * len(panels), nrows=len(panels))
    axes = list(axes) if len(panels) > 1 else [axes]
    every = [r for _, _, ratios in panels for r in ratios]
    lo = min(1.0, *(min(r.low, r.best, r.median) for r in every))
    hi = max(1.0, *(max(r.high, r.best, r.median) for r in every))
    pad = 0.08 * (hi - lo)
    for ax, (title, labels, ratios) in zip(axes, panels, strict=True):
        ys = list(range(len(labels)))[::-1]
        ax.hlines(
            ys,
            [r.low for r in ratios],
            [r.high for r in ratios],
            color="C1",
            linewidth=2.5,
            alpha=0.8,
            label="range of the paired repeats",
        )
        ax.plot([r.median for r in ratios], ys, "D", color="C1", markersize=6, label="median")
        ax.plot([r.best for r in ratios], ys, "o", color="C0", markersize=8, label="best")
        ax.axvline(1.0, linestyle="--", linewidth=1, color="grey")
        ax.set_yticks(ys, list(labels))
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", visible=False)
    axes[-1].set_xlabel(xlabel)
    axes[0].legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.12), ncol=3)
    return to_svg(fig, alt=alt)
