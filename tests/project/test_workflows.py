"""The GitHub workflows test what the project claims to support.

GitHub is not reachable from our CI machine, so these tests read the workflow
files: the matrix covers Linux, macOS and Windows, every Python that
pyproject.toml supports, and both ends of the dependency range; the checks job
runs the README's test command; the Pages build is strict.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def combinations(strategy: dict[str, Any]) -> list[dict[str, str]]:
    """The jobs a GitHub matrix expands to (the cross product, then `include`)."""
    matrix = dict(strategy["matrix"])
    include = matrix.pop("include", [])
    keys = list(matrix)
    jobs = [dict(zip(keys, values)) for values in itertools.product(*matrix.values())]
    for extra in include:
        fits = [j for j in jobs if all(j.get(k, v) == v for k, v in extra.items() if k in keys)]
        if fits:
            for j in fits:
                j.update(extra)
        else:
            jobs.append(dict(extra))
    return jobs


def run_lines(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_matrix_covers_every_os_python_and_both_ends_of_the_range() -> None:
    jobs = combinations(workflow("tests.yml")["jobs"]["matrix"]["strategy"])
    systems = {"ubuntu-latest", "macos-latest", "windows-latest"}
    pythons = {"3.10", "3.11", "3.12", "3.13"}
    newest = {(j["os"], j["python"]) for j in jobs if j["deps"] == "newest"}
    lowest = {(j["os"], j["python"]) for j in jobs if j["deps"] == "lowest"}
    assert newest == set(itertools.product(systems, pythons))
    assert lowest == {(os, "3.10") for os in systems}  # the lowest pins on the lowest Python
    requires = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires and min(pythons) == requires[1]


def test_lowest_jobs_install_the_pinned_lower_bounds() -> None:
    runs = run_lines(workflow("tests.yml")["jobs"]["matrix"])
    assert 'pip install -c .github/constraints/lowest.txt -e ".[test]"' in runs
    torch_pin = re.search(
        r"^torch==(\S+)$", (ROOT / ".github/constraints/lowest.txt").read_text(), re.M
    )
    assert torch_pin and f"pip install torch=={torch_pin[1]}" in runs
    assert "python -m pytest" in runs


def test_checks_job_runs_the_readme_command_and_pages_build_strictly() -> None:
    checks = workflow("tests.yml")["jobs"]["checks"]
    assert "python tools/check.py" in run_lines(checks)
    assert 'pip install -e ".[test]"' in run_lines(checks)
    assert "mkdocs build --strict" in run_lines(workflow("pages.yml")["jobs"]["build"])
