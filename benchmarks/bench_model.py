#!/usr/bin/env python3
"""Benchmark our GPT against Hugging Face `transformers` GPT-2, and measure attention memory.

What is measured, on CPU, in one run:

* training throughput (tokens/s): one step is zero_grad, forward, cross-entropy
  loss, backward and an AdamW step, for our `GPT` and for `transformers`'
  `GPT2LMHeadModel` at the same configuration, with the same weights (ours is
  converted from the HF model by `GPT.from_huggingface`), the same batch, the
  same optimizer settings and the same thread count;
* inference throughput (tokens/s): one forward pass in eval mode under
  `torch.no_grad()`, likewise;
* peak memory of one forward (and one forward + backward) pass with our
  explicit attention vs the fused SDPA path, at growing sequence length T, each
  measured in a fresh process (`groundup.pages.benchmarks`).

Before anything is timed, each pair of models must agree: logits, loss and
every gradient within 1e-5 (and HF's own shifted-label loss must match the same
loss computed from our logits), or the run stops. Timed steps are interleaved
(ours, HF, HF, ours, ...), every step is timed on its own, and the report gives
the best step (best-of-N) and the median.

Results go to a Markdown section (between `<!-- model:start -->` and
`<!-- model:end -->` in `--output`; other sections are kept) and to a JSON file
with every raw timing (`--json`). The run refuses to start, or to write, when
the working tree has uncommitted changes (other than the results files);
`--allow-dirty` runs anyway and marks the results as not publishable.

    python benchmarks/bench_model.py            # full run, about 4 min on 2 cores
    python benchmarks/bench_model.py --quick    # smoke run on tiny models, < 20 s
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from groundup.model import GPT, GPTConfig
from groundup.model.hf import gpt2_state_dict
from groundup.pages.benchmarks import MB, MMAP_THRESHOLD, attention_memory_sweep

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

hf_logging.set_verbosity_error()

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "RESULTS.md"
DEFAULT_JSON = ROOT / "benchmarks" / "results_model.json"

# The floors from the issue: ours / HF throughput, training and inference.
FLOOR_TRAIN = 1.0
FLOOR_INFER = 1.0
PARITY_TOL = 1e-5  # logits, loss and gradients must agree this closely before timing

LR, WEIGHT_DECAY = 3e-4, 0.1  # AdamW, the same for both models
DEFAULT_REPEATS = {False: 10, True: 2}
DEFAULT_THREADS = 1
TARGET_BLOCK_S = {False: 1.0, True: 0.0}  # each peer's timed block lasts at least this
MAX_STEPS_PER_BLOCK = 8


@dataclass(frozen=True)
class BenchConfig:
    """One row of the throughput tables: a GPT-2 shape, a batch and a length."""

    name: str
    d_model: int
    n_layer: int
    n_head: int
    seq_len: int
    batch: int
    vocab_size: int = 4096

    def hf_config(self) -> GPT2Config:
        """GPT-2 config at this shape, all dropout off, no cache-related tokens."""
        return GPT2Config(
            vocab_size=self.vocab_size,
            n_positions=self.seq_len,
            n_embd=self.d_model,
            n_layer=self.n_layer,
            n_head=self.n_head,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )

    @property
    def tokens(self) -> int:
        return self.batch * self.seq_len


FULL_CONFIGS = (
    BenchConfig("site scale", d_model=128, n_layer=4, n_head=4, seq_len=128, batch=16),
    BenchConfig("mid", d_model=256, n_layer=6, n_head=4, seq_len=256, batch=8),
    BenchConfig("GPT-2 small width", d_model=768, n_layer=2, n_head=12, seq_len=256, batch=4),
)
QUICK_CONFIGS = (
    BenchConfig("tiny", d_model=32, n_layer=1, n_head=2, seq_len=32, batch=2, vocab_size=128),
    BenchConfig("tiny-2", d_model=48, n_layer=2, n_head=4, seq_len=64, batch=2, vocab_size=256),
)
# Attention memory: GPTConfig's default shape (the site scale), batch 1, growing T.
FULL_MEMORY = {"config": GPTConfig(), "seq_lens": (256, 512, 1024, 2048, 4096), "batch": 1}
QUICK_MEMORY = {
    "config": GPTConfig(vocab_size=128, n_layer=1, n_head=2, d_model=32),
    "seq_lens": (128, 256),
    "batch": 1,
}

START_MARK, END_MARK = markers("model")


# ---------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; defaults depend on --quick."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: tiny models, two memory points")
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved timed blocks per model "
        f"(default {DEFAULT_REPEATS[False]}; {DEFAULT_REPEATS[True]} with --quick)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"torch.set_num_threads for every measurement (default {DEFAULT_THREADS})",
    )
    p.add_argument(
        "--memory-workers",
        type=int,
        default=2,
        help="memory measurements run side by side (each in its own process)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="Markdown file whose model section is (re)written",
    )
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="JSON file for the raw numbers")
    p.add_argument(
        "--allow-dirty",
        action="store_true",
        help="run on a tree with uncommitted changes (a local experiment: the results are "
        "marked as not publishable)",
    )
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = DEFAULT_REPEATS[args.quick]
    if args.repeats < 1 or args.threads < 1 or args.memory_workers < 1:
        p.error("--repeats, --threads and --memory-workers must be >= 1")
    args.configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    args.memory = QUICK_MEMORY if args.quick else FULL_MEMORY
    return args


# -------------------------------------------------------------------- models
def build_pair(cfg: BenchConfig, seed: int = 0) -> tuple[GPT2LMHeadModel, GPT]:
    """A randomly initialised HF GPT-2 (default attention) and ours converted from it."""
    torch.manual_seed(seed)
    hf = GPT2LMHeadModel(cfg.hf_config())
    ours = GPT.from_huggingface(hf)
    return hf, ours


def batch_for(cfg: BenchConfig, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T) and next-token targets (B, T), random ids."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size, (cfg.batch, cfg.seq_len + 1), generator=g)
    return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()


def hf_logits(hf: GPT2LMHeadModel, x: torch.Tensor) -> torch.Tensor:
    return hf(input_ids=x, use_cache=False).logits


def ours_loss(ours: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    loss = ours(x, y)[1]
    assert loss is not None
    return loss


def hf_loss(hf: GPT2LMHeadModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same loss ours computes inside `forward`: mean cross-entropy over (B, T)."""
    return F.cross_entropy(hf_logits(hf, x).flatten(0, 1), y.flatten())


def check_parity(
    hf: GPT2LMHeadModel, ours: GPT, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    """Both models in train mode (dropout is 0): logits, loss and gradients must agree,
    and the logits again in eval mode under `torch.no_grad()`.

    Also checks HF's own loss path (`labels=`, which shifts internally) against
    the same shifted loss computed from our logits. Raises AssertionError beyond
    PARITY_TOL; returns the largest differences seen.
    """
    hf_storage = {p.untyped_storage().data_ptr() for p in hf.parameters()}
    if any(p.untyped_storage().data_ptr() in hf_storage for p in ours.parameters()):
        raise AssertionError("ours shares parameter storage with HF: not two models")
    hf.train()
    ours.train()
    hf.zero_grad(set_to_none=True)
    ours.zero_grad(set_to_none=True)
    logits_ours, loss_ours = ours(x, y)
    assert loss_ours is not None
    logits_hf = hf_logits(hf, x)
    loss_hf = F.cross_entropy(logits_hf.flatten(0, 1), y.flatten())
    hf_labels_loss = hf(input_ids=x, labels=x, use_cache=False).loss
    shifted_ours = F.cross_entropy(logits_ours[:, :-1].flatten(0, 1), x[:, 1:].flatten())
    loss_ours.backward()
    loss_hf.backward()
    hf_raw = {}
    for n, p in hf.named_parameters():
        assert p.grad is not None, n
        hf_raw[n] = p.grad
    hf_grads = gpt2_state_dict(hf_raw, ours.config)
    grad_diff = 0.0
    for name, p in ours.named_parameters():
        assert p.grad is not None and hf_grads[name] is not None, name
        grad_diff = max(grad_diff, (p.grad - hf_grads[name]).abs().max().item())
    diffs = {
        "max_abs_logits_diff": (logits_ours - logits_hf).abs().max().item(),
        "abs_loss_diff": abs(loss_ours.item() - loss_hf.item()),
        "abs_hf_labels_loss_diff": abs(shifted_ours.item() - hf_labels_loss.item()),
        "max_abs_grad_diff": grad_diff,
    }
    hf.zero_grad(set_to_none=True)
    ours.zero_grad(set_to_none=True)
    hf.eval()
    ours.eval()
    with torch.no_grad():  # the inference steps' mode
        diffs["max_abs_logits_diff_eval"] = (ours(x)[0] - hf_logits(hf, x)).abs().max().item()
    bad = {k: v for k, v in diffs.items() if not v <= PARITY_TOL}
    if bad:
        raise AssertionError(f"ours and HF disagree beyond {PARITY_TOL:g}: {bad}")
    return diffs


# ------------------------------------------------------------------- timing
Step = Callable[[], Any]


def train_steps(
    hf: GPT2LMHeadModel, ours: GPT, x: torch.Tensor, y: torch.Tensor
) -> dict[str, Step]:
    """{"ours": step, "hf": step}: zero_grad, forward + loss, backward, AdamW step."""
    steps: dict[str, Step] = {}
    for peer, model, loss_fn in (("ours", ours, ours_loss), ("hf", hf, hf_loss)):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

        def step(
            model: Any = model,
            opt: torch.optim.Optimizer = opt,
            loss_fn: Callable[..., torch.Tensor] = loss_fn,
        ) -> float:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, x, y)
            loss.backward()
            opt.step()
            return loss.item()

        steps[peer] = step
    return steps


def infer_steps(hf: GPT2LMHeadModel, ours: GPT, x: torch.Tensor) -> dict[str, Step]:
    """{"ours": step, "hf": step}: one forward pass, eval mode, no autograd."""
    hf.eval()
    ours.eval()

    def ours_step() -> torch.Tensor:
        with torch.no_grad():
            return ours(x)[0]

    def hf_step() -> torch.Tensor:
        with torch.no_grad():
            return hf_logits(hf, x)

    return {"ours": ours_step, "hf": hf_step}


def time_interleaved(
    steps: dict[str, Step], repeats: int, target_block_s: float, warmup: int = 2
) -> dict[str, Any]:
    """Time every step of `repeats` interleaved blocks per peer.

    After `warmup` untimed steps per peer, the number of steps per block is
    chosen so a block lasts about `target_block_s` (1 to MAX_STEPS_PER_BLOCK).
    Block order alternates (ours, hf / hf, ours / ...), so a slow patch of the
    machine hits both. Returns per-step wall and CPU times for each peer.
    """
    peers = list(steps)
    for peer in peers:
        for _ in range(warmup):
            steps[peer]()
    probe = []
    for peer in peers:
        start = time.perf_counter()
        steps[peer]()
        probe.append(time.perf_counter() - start)
    per_block = max(1, min(MAX_STEPS_PER_BLOCK, math.ceil(target_block_s / max(probe))))
    wall: dict[str, list[float]] = {p: [] for p in peers}
    cpu: dict[str, list[float]] = {p: [] for p in peers}
    for r in range(repeats):
        for peer in peers if r % 2 == 0 else peers[::-1]:
            gc.collect()
            for _ in range(per_block):
                c0, t0 = time.process_time(), time.perf_counter()
                steps[peer]()
                wall[peer].append(time.perf_counter() - t0)
                cpu[peer].append(time.process_time() - c0)
    return {"steps_per_block": per_block, "wall_s": wall, "cpu_s": cpu}


def throughput_row(cfg: BenchConfig, timing: dict[str, Any], floor: float) -> dict[str, Any]:
    """Tokens/s (best step and median step) for both peers, their ratios, the floor verdict."""
    row: dict[str, Any] = {"steps_per_block": timing["steps_per_block"]}
    for peer in ("ours", "hf"):
        wall = timing["wall_s"][peer]
        best, median = min(wall), statistics.median(wall)
        row[f"{peer}_step_s_all"] = wall
        row[f"{peer}_cpu_s_all"] = timing["cpu_s"][peer]
        row[f"{peer}_step_spread_s"] = spread(wall)
        row[f"{peer}_best_step_s"] = best
        row[f"{peer}_median_step_s"] = median
        row[f"{peer}_best_tokens_per_s"] = cfg.tokens / best
        row[f"{peer}_median_tokens_per_s"] = cfg.tokens / median
        row[f"{peer}_cpu_over_wall"] = sum(timing["cpu_s"][peer]) / sum(wall)
    row["ours_over_hf_best"] = row["ours_best_tokens_per_s"] / row["hf_best_tokens_per_s"]
    row["ours_over_hf_median"] = row["ours_median_tokens_per_s"] / row["hf_median_tokens_per_s"]
    row["floor"] = "met" if row["ours_over_hf_best"] >= floor else "missed"
    row["floor_on_median"] = "met" if row["ours_over_hf_median"] >= floor else "missed"
    return row


# ------------------------------------------------------------------ machine
def machine_info(threads: int) -> dict[str, Any]:
    """The shared machine facts plus threads and the peers' versions, for the report header."""
    probe = GPT2LMHeadModel(GPT2Config(vocab_size=8, n_positions=4, n_embd=8, n_layer=1, n_head=1))
    return {
        **_report.machine_info(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "hf_attn_implementation": probe.config._attn_implementation,
        "torch_parallel_info": torch.__config__.parallel_info().strip().splitlines(),
    }


# ------------------------------------------------------------------- memory
def memory_rows(spec: dict[str, Any], threads: int, workers: int) -> list[dict[str, Any]]:
    """Forward, then forward + backward, for explicit and SDPA at every T."""
    rows = []
    for backward in (False, True):
        rows += attention_memory_sweep(
            spec["config"],
            spec["seq_lens"],
            batch=spec["batch"],
            backward=backward,
            workers=workers,
            threads=threads,
        )
    return rows


def memory_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per T: extra MB for each (attention, pass), the ratios, growth per doubling."""
    by = {(r["attention"], r["backward"], r["seq_len"]): r for r in rows}
    seq_lens = sorted({r["seq_len"] for r in rows})
    table = []
    for i, t in enumerate(seq_lens):
        entry: dict[str, Any] = {
            "seq_len": t,
            "score_matrix_mb": by["explicit", False, t]["score_matrix_bytes"] / MB,
        }
        for backward, tag in ((False, "fwd"), (True, "fwd_bwd")):
            exp, sdpa = by["explicit", backward, t], by["sdpa", backward, t]
            entry[f"explicit_{tag}_mb"] = exp["extra_bytes"] / MB
            entry[f"sdpa_{tag}_mb"] = sdpa["extra_bytes"] / MB
            entry[f"explicit_over_sdpa_{tag}"] = exp["extra_bytes"] / max(sdpa["extra_bytes"], 1)
            if i > 0:
                prev = seq_lens[i - 1]
                for a in ("explicit", "sdpa"):
                    growth = by[a, backward, t]["extra_bytes"] / max(
                        by[a, backward, prev]["extra_bytes"], 1
                    )
                    entry[f"{a}_{tag}_growth"] = growth
        table.append(entry)
    return table


# ------------------------------------------------------------------- report
def fmt_ratio(x: float) -> str:
    """Ratios: three decimals below 10 (throughput ratios sit near 1), one up to 100."""
    return f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_floor(ratio: float, floor: float, verdict: str) -> str:
    """The floor cell: "met", or "missed" with the shortfall in percent."""
    if verdict == "met":
        return "met"
    return f"missed (by {(floor - ratio) / floor * 100:.2g}%)"


def fmt_tps(x: float) -> str:
    """Tokens per second, to three significant figures or whole tokens."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def fmt_tps_spread(row: dict[str, Any], peer: str) -> str:
    """A peer's "best / median / slowest" throughput cell, in tokens per second."""
    tokens = row["config"]["batch"] * row["config"]["seq_len"]
    return (
        f"{fmt_tps(row[f'{peer}_best_tokens_per_s'])} / "
        f"{fmt_tps(row[f'{peer}_median_tokens_per_s'])} / "
        f"{fmt_tps(tokens / row[f'{peer}_step_spread_s']['max'])}"
    )


def render_markdown(results: dict[str, Any]) -> str:
    """The model section of RESULTS.md, from the raw results only."""
    m, s = results["machine"], results["settings"]
    load = results["load_average_1min"]
    mem = results["memory"]
    lines = [START_MARK, "## Model", ""]
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
            (
                "    Made with `--quick`: tiny models and two sequence lengths. "
                "These numbers only show that the script works."
            ),
            "",
        ]
    lines += [
        (
            f"Our `GPT` (`groundup.model`) against Hugging Face `transformers` GPT-2, measured by "
            f"`benchmarks/bench_model.py` in one run on {results['date']}."
        ),
        "",
        "| Setup | |",
        "|---|---|",
        f"| CPU | {m['cpu']} ({m['usable_cores']} cores usable, {m['logical_cores']} logical) |",
        f"| Threads | `torch.set_num_threads({m['torch_threads']})` for every measurement |",
        f"| Python | {m['python']} on {m['platform']} |",
        (
            f"| Libraries | torch {m['torch']}, transformers {m['transformers']} "
            f"(GPT2LMHeadModel, attention implementation `{m['hf_attn_implementation']}`, "
            "its default) |"
        ),
        f"| groundup commit | {commit_cell(results)} |",
        (
            f"| Load average (1 min): start / highest sampled / end | {load['start']:.2f} / "
            f"{load['peak']:.2f} / {load['end']:.2f} |"
        ),
        f"| Wall time of the whole run | {results['wall_s'] / 60:.1f} min |",
        "",
        "**How throughput was measured.** For each row, a `transformers` `GPT2LMHeadModel` "
        "is built at that shape with every dropout at 0 and its default attention "
        f"implementation (`{m['hf_attn_implementation']}`), and ours is converted from it "
        "with `GPT.from_huggingface`, so both hold the same weights; ours also uses SDPA "
        'attention (`GPTConfig.attention="sdpa"`). Both get the same random batch of '
        "token ids. Before timing, the run checks in train mode that logits, loss and every "
        f"gradient agree within {PARITY_TOL:g} (and that HF's own `labels=` loss matches "
        "the same loss from our logits), and the logits again in eval mode; it stops "
        "otherwise. "
        "A *training step* is `zero_grad`, forward, mean cross-entropy over all B×T "
        "positions (computed by `F.cross_entropy` on HF's logits, inside `forward` for "
        f"ours: the same call), `backward` and `torch.optim.AdamW(lr={LR:g}, "
        f"weight_decay={WEIGHT_DECAY:g})`, both models in train mode. "
        "An *inference step* is one forward pass in eval mode under `torch.no_grad()`. "
        "HF is called with `use_cache=False` (ours keeps no key/value cache either). "
        f"After 2 warm-up steps each, the two models run {s['repeats']} interleaved blocks "
        "each (order swapped every block; "
        + (
            f"steps per block chosen so a block lasts about {s['target_block_s']:g} s, "
            f"at most {MAX_STEPS_PER_BLOCK}"
            if s["target_block_s"] > 0
            else "one step per block"
        )
        + ") and every step "
        "is timed on its own with `time.perf_counter`. Tokens/s is B×T divided by the "
        "step time; *best* uses the fastest step, *median* the median step, and *slowest* "
        "(beside the median) the slowest step. The floor is "
        "judged on the best-step ratio, the least disturbed by other processes; the median "
        "ratio is shown beside it. *CPU ÷ wall* is process CPU time over wall time of the "
        f"timed steps: with {m['torch_threads']} "
        f"{'thread' if m['torch_threads'] == 1 else 'threads'}, a value well below "
        f"{m['torch_threads']} means the process was waiting for a core. "
        f"The load averages above (a load above {m['usable_cores']} means processes were "
        "waiting for a core) show how busy the machine was.",
    ]
    lines += [
        "",
        "### Models",
        "",
        "| Config | d_model | Layers | Heads | T | Batch | Vocab | Parameters |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results["training"]:
        c = r["config"]
        lines.append(
            f"| {c['name']} | {c['d_model']} | {c['n_layer']} | {c['n_head']} "
            f"| {c['seq_len']} | {c['batch']} | {c['vocab_size']} | {r['parameters']:,} |"
        )
    for title, key, floor in (
        ("Training throughput", "training", FLOOR_TRAIN),
        ("Inference throughput", "inference", FLOOR_INFER),
    ):
        lines += [
            "",
            f"### {title}",
            "",
            "Each throughput cell is the *best / median / slowest* step, in tokens per second.",
            "",
            "| Config | Ours (tok/s) | HF (tok/s) | Ours ÷ HF: best / median "
            f"| Floor: ours ≥ {floor:g} × HF |",
            "|---|--:|--:|--:|---|",
        ]
        for r in results[key]:
            lines.append(
                f"| {r['config']['name']} | {fmt_tps_spread(r, 'ours')} | {fmt_tps_spread(r, 'hf')} "
                f"| {fmt_ratio(r['ours_over_hf_best'])}× / {fmt_ratio(r['ours_over_hf_median'])}× "
                f"| {fmt_floor(r['ours_over_hf_best'], floor, r['floor'])} |"
            )
        lines += [
            "",
            "| Config | Steps timed (each) | CPU ÷ wall (ours / HF) | Load (1 min, highest) |",
            "|---|--:|--:|--:|",
        ]
        for r in results[key]:
            lines.append(
                f"| {r['config']['name']} | {len(r['ours_step_s_all'])} "
                f"| {r['ours_cpu_over_wall']:.2f} / {r['hf_cpu_over_wall']:.2f} "
                f"| {r['load_peak']:.2f} |"
            )
    parity = results["parity"]
    worst = {k: max(p[k] for p in parity) for k in parity[0] if k != "config"}
    lines += [
        "",
        (
            "Parity before timing (largest difference over all rows, tolerance "
            f"{PARITY_TOL:g}): logits {worst['max_abs_logits_diff']:.1e} (train mode) and "
            f"{worst['max_abs_logits_diff_eval']:.1e} (eval mode, no grad), loss "
            f"{worst['abs_loss_diff']:.1e}, HF `labels=` loss {worst['abs_hf_labels_loss_diff']:.1e}, "
            f"gradients {worst['max_abs_grad_diff']:.1e}. The two models hold separate copies "
            "of the weights; after the timed training steps (the same number of AdamW steps on "
            "the same batch for each), their logits still agreed within "
            f"{max(r['max_abs_logits_diff_after_training'] for r in results['training']):.1e} "
            "(float rounding, amplified by Adam; reported, not checked), so both did the same work."
        ),
    ]

    mc = mem["config"]
    lines += [
        "",
        "### Attention memory: explicit vs SDPA",
        "",
        "Our `GPT` "
        + ("" if s["quick"] else "at `GPTConfig`'s default shape ")
        + f"(d_model {mc['d_model']}, {mc['n_layer']} layers, "
        f"{mc['n_head']} heads, vocabulary {mc['vocab_size']}), batch {mem['batch']}, with "
        '`attention="explicit"` (scores, mask and softmax written out, so each layer holds '
        '(B, H, T, T) matrices) and with `attention="sdpa"` '
        "(`torch.nn.functional.scaled_dot_product_attention`, a fused kernel). "
        "**How memory was measured** (`groundup.pages.benchmarks`): each number is one step in "
        "its own fresh Python process, with one thread and glibc's mmap threshold pinned "
        f"(`MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}`) so freed tensors go back to the OS. "
        "The child builds the model and inputs, runs the same step once at T = 16 (one-time "
        "setup), collects garbage and trims the heap, reads its resident set size (RSS), "
        "resets the kernel's peak-RSS mark (`/proc/self/clear_refs`), runs the step and "
        "reads the peak RSS (`VmHWM` in `/proc/self/status`; not `ru_maxrss`, which in a "
        "child started by `subprocess` also holds the parent's peak from before `exec`, "
        "and cannot be reset). The tables show the peak "
        "minus the RSS just before the step, in MB (10⁶ bytes): activations, scores, "
        "gradients and allocator overhead, but not the model or the inputs. "
        "*Forward* is one forward pass in eval mode under `torch.no_grad()`; *forward + "
        "backward* is the forward with the loss in train mode and `loss.backward()`. "
        "*One score matrix* is the size of a single layer's float32 (B, H, T, T) scores; "
        "*×2 T* is how much the extra memory grew since the previous T (quadratic growth "
        "gives 4, linear 2). "
        + (
            "Every measurement reset the peak-RSS mark."
            if all(r["reset"] for r in mem["rows"])
            else "**Some measurements could not reset the peak-RSS mark**: see "
            "`floor_bytes` in the JSON."
        ),
    ]
    for tag, what in (("fwd", "Forward"), ("fwd_bwd", "Forward + backward")):
        lines += [
            "",
            f"{what}:",
            "",
            "| T | One score matrix (MB) | Explicit (MB) | SDPA (MB) | Explicit ÷ SDPA "
            "| ×2 T: explicit / SDPA |",
            "|--:|--:|--:|--:|--:|--:|",
        ]
        for e in mem["table"]:
            growth = (
                f"{e[f'explicit_{tag}_growth']:.2f} / {e[f'sdpa_{tag}_growth']:.2f}"
                if f"explicit_{tag}_growth" in e
                else ""
            )
            lines.append(
                f"| {e['seq_len']:,} | {e['score_matrix_mb']:.1f} "
                f"| {e[f'explicit_{tag}_mb']:.1f} | {e[f'sdpa_{tag}_mb']:.1f} "
                f"| {e[f'explicit_over_sdpa_{tag}']:.2f}× | {growth} |"
            )
    lines += ["", "### Summary", ""]
    lines += [f"- {line}" for line in summary_lines(results)]
    lines += ["", END_MARK]
    return "\n".join(lines) + "\n"


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One honest line per floor, and one for memory, with the numbers."""
    out = []
    for what, key, floor in (
        ("training", "training", FLOOR_TRAIN),
        ("inference", "inference", FLOOR_INFER),
    ):
        rows = results[key]
        met = sum(r["floor"] == "met" for r in rows)
        verdict = (
            f"**met** in all {len(rows)} rows"
            if met == len(rows)
            else f"**missed** in {len(rows) - met} of {len(rows)} rows"
        )
        parts = [
            f"{r['config']['name']}: {fmt_ratio(r['ours_over_hf_best'])}× best "
            f"({fmt_ratio(r['ours_over_hf_median'])}× median)"
            + ("" if r["floor"] == "met" else ", missed")
            for r in rows
        ]
        median_missed = [r["config"]["name"] for r in rows if r["floor_on_median"] != "met"]
        note = (
            f"; on the median ratio it would be missed in: {', '.join(median_missed)}"
            if median_missed
            else "; the median ratios agree"
        )
        out.append(f"Ours ≥ {floor:g} × HF {what} throughput: {verdict}; {'; '.join(parts)}{note}.")
    mem = results["memory"]
    last = mem["table"][-1]
    out.append(
        f"Attention memory at T = {last['seq_len']:,}: explicit needs "
        f"{last['explicit_fwd_mb']:.0f} MB extra for a forward pass vs "
        f"{last['sdpa_fwd_mb']:.0f} MB for SDPA ({last['explicit_over_sdpa_fwd']:.2f}×), "
        f"and {last['explicit_fwd_bwd_mb']:.0f} MB vs {last['sdpa_fwd_bwd_mb']:.0f} MB for "
        f"forward + backward ({last['explicit_over_sdpa_fwd_bwd']:.2f}×)."
    )
    out.append(
        "Logits, loss and gradients identical within "
        f"{PARITY_TOL:g} before timing, in every row: yes."
    )
    return out


# --------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    git = git_state()  # before writing anything: the commit state is the code's
    check_publishable(git, args.allow_dirty, "measure")
    run_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    load = LoadMonitor()
    load_start = load.sample()
    machine = machine_info(args.threads)

    def log(msg: str) -> None:
        load.sample()
        print(msg, flush=True)

    log(
        f"threads {args.threads}, HF attention `{machine['hf_attn_implementation']}`, "
        f"load {load_start:.2f}"
    )
    parity: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    inference: list[dict[str, Any]] = []
    for cfg in args.configs:
        hf, ours = build_pair(cfg)
        x, y = batch_for(cfg)
        diffs = check_parity(hf, ours, x, y)
        parity.append({"config": cfg.name, **diffs})
        log(f"{cfg.name}: parity ok ({', '.join(f'{k} {v:.1e}' for k, v in diffs.items())})")
        assert ours.config.attention == "sdpa"
        common = {
            "config": asdict(cfg),
            "parameters": ours.num_parameters(),
            "tokens_per_step": cfg.tokens,
            "hf_attn_implementation": hf.config._attn_implementation,
            "ours_attention": ours.config.attention,
        }
        target = TARGET_BLOCK_S[args.quick]

        first = len(load.samples)
        load.sample()
        timing = time_interleaved(infer_steps(hf, ours, x), args.repeats, target)
        row = {**common, **throughput_row(cfg, timing, FLOOR_INFER)}
        row["load_peak"] = max(load.sample(), load.peak_since(first))
        inference.append(row)
        log(
            f"{cfg.name}: inference ours {fmt_tps(row['ours_best_tokens_per_s'])} tok/s, "
            f"HF {fmt_tps(row['hf_best_tokens_per_s'])} tok/s -> "
            f"{fmt_ratio(row['ours_over_hf_best'])}x best, "
            f"{fmt_ratio(row['ours_over_hf_median'])}x median (load {row['load_peak']:.2f})"
        )

        first = len(load.samples)
        load.sample()
        timing = time_interleaved(train_steps(hf, ours, x, y), args.repeats, target)
        row = {**common, **throughput_row(cfg, timing, FLOOR_TRAIN)}
        row["load_peak"] = max(load.sample(), load.peak_since(first))
        # Same start, same batch, same number of AdamW steps: the weights should still
        # agree up to float rounding amplified by Adam (reported, not asserted).
        with torch.no_grad():
            hf.eval()
            ours.eval()
            row["max_abs_logits_diff_after_training"] = (
                (ours(x)[0] - hf_logits(hf, x)).abs().max().item()
            )
        training.append(row)
        log(
            f"{cfg.name}: training  ours {fmt_tps(row['ours_best_tokens_per_s'])} tok/s, "
            f"HF {fmt_tps(row['hf_best_tokens_per_s'])} tok/s -> "
            f"{fmt_ratio(row['ours_over_hf_best'])}x best, "
            f"{fmt_ratio(row['ours_over_hf_median'])}x median (load {row['load_peak']:.2f})"
        )
        del hf, ours
        gc.collect()

    spec = args.memory
    log(f"memory: T = {list(spec['seq_lens'])}, explicit vs SDPA, forward and forward+backward")
    first = len(load.samples)
    rows = memory_rows(spec, args.threads, args.memory_workers)
    table = memory_table(rows)
    for e in table:
        log(
            f"memory T={e['seq_len']:5}: forward explicit {e['explicit_fwd_mb']:.1f} MB, "
            f"SDPA {e['sdpa_fwd_mb']:.1f} MB; fwd+bwd explicit {e['explicit_fwd_bwd_mb']:.1f} MB, "
            f"SDPA {e['sdpa_fwd_bwd_mb']:.1f} MB"
        )
    memory = {
        "config": asdict(spec["config"]),
        "batch": spec["batch"],
        "seq_lens": list(spec["seq_lens"]),
        "mmap_threshold": MMAP_THRESHOLD,
        "load_peak": max(load.sample(), load.peak_since(first)),
        "rows": rows,
        "table": table,
    }

    results: dict[str, Any] = {
        **run_facts(machine, load, load_start, run_start, git, args.quick),
        "settings": {
            "quick": args.quick,
            "repeats": args.repeats,
            "threads": args.threads,
            "target_block_s": TARGET_BLOCK_S[args.quick],
            "max_steps_per_block": MAX_STEPS_PER_BLOCK,
            "warmup_steps": 2,
            "adamw": {"lr": LR, "weight_decay": WEIGHT_DECAY},
            "parity_tolerance": PARITY_TOL,
        },
        "floors": {"train_ours_over_hf_min": FLOOR_TRAIN, "infer_ours_over_hf_min": FLOOR_INFER},
        "parity": parity,
        "training": training,
        "inference": inference,
        "memory": memory,
    }
    save_results(
        results,
        name="model",
        json_path=args.json,
        md_path=args.output,
        render=render_markdown,
        summary=summary_lines,
        log=log,
        allow_dirty=args.allow_dirty,
    )


if __name__ == "__main__":
    exit_on_dirty_tree(main)
