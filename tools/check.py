"""Every check the project holds itself to, in the order CI runs them.

    python tools/check.py            # all of them (the README's test command)
    python tools/check.py --fast     # lint, types and the fast tests only (a minute or ten)

1. ruff: lint, and the format check (no file would be reformatted);
2. mypy over code/groundup, tests/, tools/, hooks/ and benchmarks/ (the package
   fully annotated);
3. pytest, the fast tests, with coverage of code/groundup;
4. pytest -m "slow or browser": notebooks, long runs and Chromium, adding to the coverage;
5. tools/check_coverage.py: at least 95% of code/groundup, and 100% of every snippet
   section the site shows.

Every step runs even when an earlier one fails, so one run reports everything;
the exit status is 1 if any failed. A summary of the figures ends the output, with
the build profile of the last site build (`<cache folder>/build-profile.json`, written
by `hooks/build_profile.py`; the tests build the site): its total and each chapter's
seconds against its budget. Budgets are figures to read, never a failed check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass
class Step:
    name: str
    argv: list[str]
    summary: str  # a regex; its last match in the output is the step's figure


STEPS = [
    Step("ruff lint", [PY, "-m", "ruff", "check", "."], r"All checks passed!|Found \d+ errors?"),
    Step(
        "ruff format",
        [PY, "-m", "ruff", "format", "--check", "."],
        r"\d+ files? already formatted|\d+ files? would be reformatted",
    ),
    Step(
        "mypy",
        [PY, "-m", "mypy", "code/groundup", "tests", "tools", "hooks", "benchmarks"],
        r"Success: no issues found in \d+ source files|Found \d+ errors? in \d+ files?.*",
    ),
    Step(
        "fast tests",
        [PY, "-m", "pytest", "--cov", "--cov-report=", "--durations=15"],
        r"=+ (.*) in [\d.]+s.* =+",
    ),
    Step(
        "slow and browser tests",
        [
            PY,
            "-m",
            "pytest",
            "-m",
            "slow or browser",
            "--cov",
            "--cov-append",
            "--cov-report=",
            "--durations=15",
        ],
        r"=+ (.*) in [\d.]+s.* =+",
    ),
    Step("coverage", [PY, "tools/check_coverage.py"], r"coverage of code/groundup: .*"),
]


def run(step: Step) -> tuple[bool, str, float]:
    """Run one step with its output streamed live; return (passed, figure, seconds)."""
    print(f"\n=== {step.name}: {' '.join(step.argv[1:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        step.argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    seconds = time.perf_counter() - start
    matches = re.findall(step.summary, "".join(lines))
    figure = re.sub(r"=+", "", str(matches[-1])).strip() if matches else "(no summary line)"
    return proc.wait() == 0, figure, seconds


def share_one_site_build() -> None:
    """Both pytest steps read the built site: the first builds it (with coverage) into
    `.cache/check-site/`, the second reuses that build and its log instead of building the
    same site again. The folder is emptied first, so every run checks a fresh build; the
    port is fixed now because the site is built for the address the browser tests serve."""
    if "GROUNDUP_SITE_BUILD" not in os.environ:
        folder = ROOT / ".cache" / "check-site"
        shutil.rmtree(folder, ignore_errors=True)
        os.environ["GROUNDUP_SITE_BUILD"] = str(folder)
    if "GROUNDUP_SITE_PORT" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["GROUNDUP_SITE_PORT"] = str(s.getsockname()[1])


def profile_path() -> Path:
    """Where the site build writes its profile: the cache folder the tests build with."""
    folder = os.environ.get("GROUNDUP_CACHE_DIR", str(ROOT / ".cache" / "groundup"))
    return Path(folder) / "build-profile.json"


def profile_summary(path: Path) -> list[str]:
    """The build profile's total and chapter totals against their budgets, as lines
    for the summary (one line saying so if no build has written a profile)."""
    if not path.is_file():
        return [f"build profile: none ({path} is written by a site build)"]
    try:
        profile: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        totals, budgets = profile["totals"], profile["budgets"]
        kind = "cold" if profile["cold"] else "warm"
        lines = [
            f"build profile ({kind} build, {profile['written_at']}): "
            f"{totals['build_seconds']:.1f} s of {budgets['site_seconds']:.0f} s"
            f"{' (over)' if budgets['site_over_budget'] else ''}; "
            f"{totals['blocks']} blocks {totals['block_seconds']:.1f} s, artefacts "
            f"{totals['computed_seconds']:.1f} s computed, {totals['loaded_seconds']:.1f} s loaded"
        ]
        for chapter in profile["chapters"]:
            budget = chapter["budget_seconds"]
            of = "" if budget is None else f" of {budget:.0f} s"
            over = " (over)" if chapter["over_budget"] else ""
            lines.append(
                f"  {chapter['name']:<22} {chapter['seconds']:7.1f} s{of}{over}, "
                f"{chapter['computed_seconds']:.1f} s computing artefacts"
            )
    except (ValueError, KeyError, TypeError) as error:
        return [f"build profile: {path} is not a profile ({type(error).__name__}: {error})"]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fast",
        action="store_true",
        help="lint, types and the fast tests only (no coverage floor)",
    )
    args = parser.parse_args()
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # MkDocs' 2.0 banner only
    share_one_site_build()
    (ROOT / ".coverage").unlink(missing_ok=True)
    steps = STEPS[:4] if args.fast else STEPS
    results = [(step, *run(step)) for step in steps]
    print("\n=== summary")
    for step, ok, figure, seconds in results:
        print(f"{'ok  ' if ok else 'FAIL'} {step.name:<24} {seconds:7.1f} s  {figure}")
    if not args.fast:  # the coverage figures, repeated where they are easy to find
        print(
            subprocess.run(
                [PY, "tools/check_coverage.py"], cwd=ROOT, capture_output=True, text=True
            ).stdout.rstrip()
        )
    print("\n".join(profile_summary(profile_path())))
    failed = [step.name for step, ok, *_ in results if not ok]
    print("all checks passed" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
