"""`groundup.pages.site_runs` and `hooks/site_runs.py`: the site model's independent runs,
trained side by side in worker processes, are the runs the pages would have trained."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from groundup.pages import site_runs
from groundup.pages.transformer.output_head_and_training.warmup import NO_WARMUP
from groundup.pages.transformer.residuals_and_norms.ablations import (
    ABLATION_TRAINING,
    ABLATIONS,
)
from groundup.site import load_site_model, site_run_dir, site_token_files

ROOT = Path(__file__).resolve().parents[2]
TINY = {"n_layer": 1, "n_head": 2, "d_model": 16}
SHORT = {"max_steps": 3, "warmup_steps": 1, "eval_interval": 3, "eval_iters": 1}
RUNS: list[site_runs.Run] = [(TINY, SHORT), ({**TINY, "mlp": "none"}, SHORT)]


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory) -> Path:
    """A cache folder holding only the site tokenizer and its token files (trained once)."""
    folder = tmp_path_factory.mktemp("tokenized")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GROUNDUP_CACHE_DIR", str(folder))
        site_token_files()
    return folder


def fresh_cache(tokenized: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(tokenized, folder)
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(folder))


def test_the_list_holds_every_run_the_pages_load_once():
    runs = site_runs.site_runs()
    assert runs[0] == ({}, {})  # the site model
    for changes in ABLATIONS.values():
        assert (changes, ABLATION_TRAINING) in runs
    assert ({}, NO_WARMUP) in runs
    assert len(runs) == len({json.dumps(r, sort_keys=True) for r in runs})


@pytest.mark.slow  # two worker processes, each starting torch
def test_runs_trained_in_two_processes_equal_runs_trained_one_by_one(
    tokenized, tmp_path, monkeypatch
):
    fresh_cache(tokenized, tmp_path / "parallel", monkeypatch)
    folders = site_runs.train_site_runs(2, RUNS)
    assert folders == [site_run_dir(m, **t) for m, t in RUNS]
    assert site_runs.missing_site_runs(RUNS) == []
    parallel = [load_site_model(model=m, **t) for m, t in RUNS]

    fresh_cache(tokenized, tmp_path / "serial", monkeypatch)
    assert site_runs.missing_site_runs(RUNS) == RUNS
    serial = [load_site_model(model=m, **t) for m, t in RUNS]
    for a, b in zip(parallel, serial, strict=True):
        assert a.losses == b.losses
        assert a.eval_losses == b.eval_losses
        assert a.heldout_loss == b.heldout_loss


def test_one_worker_or_one_missing_run_trains_nothing(tokenized, tmp_path, monkeypatch):
    fresh_cache(tokenized, tmp_path / "cache", monkeypatch)
    assert site_runs.train_site_runs(1, RUNS) == []
    assert site_runs.missing_site_runs(RUNS) == RUNS
    load_site_model(model=RUNS[0][0], **RUNS[0][1])
    assert site_runs.train_site_runs(2, RUNS) == []  # one run left: the page trains it
    with pytest.raises(ValueError, match="at least 1"):
        site_runs.train_site_runs(0, RUNS)


def _hook():
    spec = importlib.util.spec_from_file_location("site_runs_hook", ROOT / "hooks/site_runs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("value", "workers"), [(None, 1), ("", 1), ("1", 1), (" 4 ", 4)])
def test_hook_reads_the_number_of_workers(monkeypatch, value, workers):
    if value is None:
        monkeypatch.delenv("GROUNDUP_BUILD_WORKERS", raising=False)
    else:
        monkeypatch.setenv("GROUNDUP_BUILD_WORKERS", value)
    assert _hook().workers_from_environment() == workers


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_hook_refuses_a_bad_number_of_workers(monkeypatch, value):
    monkeypatch.setenv("GROUNDUP_BUILD_WORKERS", value)
    with pytest.raises(ValueError, match="GROUNDUP_BUILD_WORKERS"):
        _hook().workers_from_environment()


def test_hook_does_nothing_by_default(monkeypatch):
    monkeypatch.delenv("GROUNDUP_BUILD_WORKERS", raising=False)
    called: list[tuple[int, ...]] = []

    def record(*args: int) -> list[Path]:
        called.append(args)
        return []

    monkeypatch.setattr(site_runs, "train_site_runs", record)
    _hook().on_pre_build(config=None)
    assert called == []
    monkeypatch.setenv("GROUNDUP_BUILD_WORKERS", "3")
    _hook().on_pre_build(config=None)
    assert called == [(3,)]
