"""Every training run of the site model that the pages show, so a build on a machine
with many cores can train them side by side before the pages ask for them.

The runs are independent once the site tokenizer and its token files exist: the site
model itself, its ablations (Residuals and norms) and the no-warmup variant (The output
head and training). `train_site_runs(workers)` trains those not cached yet in `workers`
processes; the pages then load them from the cache exactly as if they had trained them
one after another. `hooks/site_runs.py` calls it when `$GROUNDUP_BUILD_WORKERS` is above 1.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from groundup.pages.transformer.output_head_and_training.warmup import NO_WARMUP
from groundup.pages.transformer.residuals_and_norms.ablations import (
    ABLATION_TRAINING,
    ABLATIONS,
)
from groundup.site import load_site_model, site_run_dir, site_token_files

Run = tuple[dict[str, Any], dict[str, Any]]  # (model overrides, training overrides)


def site_runs() -> list[Run]:
    """The (model, training) overrides of every run the pages load, the site model first."""
    runs: list[Run] = [({}, {})]
    runs += [(changes, ABLATION_TRAINING) for changes in ABLATIONS.values()]
    runs.append(({}, NO_WARMUP))
    unique: list[Run] = []
    for run in runs:
        if run not in unique:
            unique.append(run)
    return unique


def missing_site_runs(runs: list[Run] | None = None) -> list[Run]:
    """The runs (default: `site_runs()`) that the cache does not hold yet."""
    return [
        (model, training)
        for model, training in (site_runs() if runs is None else runs)
        if not (site_run_dir(model, **training) / "summary.json").exists()
    ]


def _train(run: Run, threads: int) -> Path:
    torch.set_num_threads(threads)
    model, training = run
    return load_site_model(model=model, **training).run_dir


def train_site_runs(workers: int, runs: list[Run] | None = None) -> list[Path]:
    """Train the runs (default: `site_runs()`) that the cache lacks in `workers` processes,
    each with an equal share of the cores as torch threads; return their cache folders.
    With fewer than two workers or fewer than two missing runs it trains nothing and
    leaves them to the pages."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    site_token_files()  # the tokenizer and the token files, once, before the workers start
    missing = missing_site_runs(runs)
    if workers < 2 or len(missing) < 2:
        return []
    workers = min(workers, len(missing))
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_train, missing, [threads] * len(missing)))
