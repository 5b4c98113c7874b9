"""benchmarks/_report.py: what a benchmark records about the commit it measured, and
the refusal to measure or write results from a working tree with uncommitted changes.

Every test here works in a throwaway git repository in tmp_path, so the real
checkout's state (clean in CI, dirty while someone works) does not matter.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench_checks import ROOT, load_script

report = load_script(ROOT / "benchmarks" / "_report.py")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit: code.py and the benchmarks' results files."""
    root = tmp_path / "repo"
    (root / "benchmarks").mkdir(parents=True)
    (root / "code.py").write_text("x = 1\n")
    for name in report.RESULT_FILES:
        (root / name).write_text("old results\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_fresh_commit_is_clean(repo: Path) -> None:
    state = report.git_state(repo)
    assert state == {
        "commit": git(repo, "rev-parse", "HEAD").strip(),
        "dirty": False,
        "changes": [],
    }


@pytest.mark.parametrize("change", ["modified", "staged", "untracked", "deleted"])
def test_any_change_to_the_code_makes_the_tree_dirty(repo: Path, change: str) -> None:
    if change == "modified":
        (repo / "code.py").write_text("x = 2\n")
    elif change == "staged":
        (repo / "code.py").write_text("x = 2\n")
        git(repo, "add", "code.py")
    elif change == "untracked":
        (repo / "new_module.py").write_text("y = 1\n")
    else:
        (repo / "code.py").unlink()
    state = report.git_state(repo)
    assert state["dirty"] is True
    assert len(state["changes"]) == 1
    with pytest.raises(report.DirtyTreeError, match="uncommitted changes") as info:
        report.check_publishable(state, allow_dirty=False, when="measure")
    assert "--allow-dirty" in str(info.value)
    assert ("new_module.py" if change == "untracked" else "code.py") in str(info.value)
    report.check_publishable(state, allow_dirty=True, when="measure")  # a local experiment


def test_rewritten_results_files_do_not_count(repo: Path) -> None:
    """The model benchmark may run after the tokenizer one has rewritten its results."""
    for name in report.RESULT_FILES:
        (repo / name).write_text("new results\n")
    assert report.git_state(repo)["dirty"] is False


def test_outside_git_nothing_is_publishable(tmp_path: Path) -> None:
    state = report.git_state(tmp_path)
    assert state["commit"] is None and state["dirty"] is True
    with pytest.raises(report.DirtyTreeError):
        report.check_publishable(state, allow_dirty=False, when="measure")


def _save(repo: Path, results: dict[str, Any], allow_dirty: bool) -> list[str]:
    logged: list[str] = []
    report.save_results(
        results,
        name="demo",
        json_path=repo / "out.json",
        md_path=repo / "out.md",
        render=lambda r: (
            f"<!-- demo:start -->\npublishable: {r['publishable']}\n<!-- demo:end -->\n"
        ),
        summary=lambda r: ["**done**"],
        log=logged.append,
        allow_dirty=allow_dirty,
        root=repo,
    )
    return logged


def _results(repo: Path) -> dict[str, Any]:
    load = report.LoadMonitor()
    start = load.sample()
    facts = report.run_facts({}, load, start, 0.0, report.git_state(repo), quick=False)
    return {**facts, "settings": {"quick": False}}


def test_results_are_written_when_the_tree_stays_clean(repo: Path) -> None:
    results = _results(repo)
    assert results["publishable"] is True and results["git"]["dirty"] is False
    # out.json / out.md are new, untracked files: written after the check, as in a real run
    assert _save(repo, results, allow_dirty=False)[0] == "done"
    saved = json.loads((repo / "out.json").read_text())
    assert saved["publishable"] is True
    assert "publishable: True" in (repo / "out.md").read_text()


def test_a_change_during_the_run_refuses_the_write(repo: Path) -> None:
    results = _results(repo)
    (repo / "code.py").write_text("x = 3\n")  # edited while the benchmark ran
    with pytest.raises(report.DirtyTreeError, match="refusing to write results"):
        _save(repo, results, allow_dirty=False)
    assert not (repo / "out.json").exists() and not (repo / "out.md").exists()


def test_a_new_commit_during_the_run_refuses_the_write(repo: Path) -> None:
    results = _results(repo)
    (repo / "code.py").write_text("x = 3\n")
    git(repo, "commit", "-q", "-am", "second")  # clean again, but not the measured commit
    with pytest.raises(report.DirtyTreeError, match="HEAD moved"):
        _save(repo, results, allow_dirty=False)


def test_allow_dirty_writes_but_marks_not_publishable(repo: Path) -> None:
    (repo / "code.py").write_text("x = 4\n")
    results = _results(repo)
    assert results["publishable"] is False
    _save(repo, results, allow_dirty=True)
    saved = json.loads((repo / "out.json").read_text())
    assert saved["publishable"] is False and saved["git"]["dirty"] is True
    assert saved["git"]["changes"] == [" M code.py"]
    assert report.commit_cell(saved).endswith("**not publishable**")


def test_quick_runs_are_never_publishable(repo: Path) -> None:
    load = report.LoadMonitor()
    facts = report.run_facts({}, load, load.sample(), 0.0, report.git_state(repo), quick=True)
    assert facts["git"]["dirty"] is False and facts["publishable"] is False


@pytest.mark.parametrize("script", ["bench_tokenizer.py", "bench_model.py"])
def test_the_scripts_refuse_to_start_on_a_dirty_tree(repo: Path, script: str) -> None:
    """End to end: the script, copied into the throwaway repository (which is then
    its repository), exits with a clear error before measuring or writing anything."""
    for name in ("_report.py", script):
        shutil.copy(ROOT / "benchmarks" / name, repo / "benchmarks" / name)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the scripts")
    (repo / "code.py").write_text("x = 5\n")
    out = repo / "benchmarks" / "RESULTS.md"
    before = out.read_text()
    proc = subprocess.run(
        [
            sys.executable,
            str(repo / "benchmarks" / script),
            "--quick",
            "--output",
            str(out),
            "--json",
            str(repo / "new.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: refusing to measure" in proc.stderr
    assert "code.py" in proc.stderr and "--allow-dirty" in proc.stderr
    assert out.read_text() == before and not (repo / "new.json").exists()


@given(st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=1, max_size=20))
def test_spread_summarises_every_repeat(values: list[float]) -> None:
    s = report.spread(values)
    assert s == {
        "best": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "n": len(values),
    }
    assert s["best"] <= s["median"] <= s["max"]


def test_spread_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no repeats"):
        report.spread([])
