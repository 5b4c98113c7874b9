"""The build profile (hooks/build_profile.py), the `timed` helper it reads
(groundup.cache.timed) and the summary tools/check.py prints from its JSON.

The hook is tested on a tiny site built in tmp_path. Nothing here asserts how long
anything took: durations are figures the profile reports, never checks.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from groundup import cache
from website.test_docs_build import mkdocs_build

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MkDocs loads hooks (dataclasses need it)
    spec.loader.exec_module(module)
    return module


hook = _load("groundup_profile_hook", ROOT / "hooks" / "build_profile.py")
check = _load("groundup_check_tool", ROOT / "tools" / "check.py")


@pytest.fixture
def timings(tmp_path, monkeypatch) -> Iterator[list[cache.Timing]]:
    """`cache.TIMINGS`, empty, with the cache folder in tmp_path."""
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "cache"))
    saved = list(cache.TIMINGS)
    cache.TIMINGS.clear()
    yield cache.TIMINGS
    cache.TIMINGS[:] = saved


# ------------------------------------------------------------------ the tiny site
ARTEFACT_BLOCK = """```python exec="on"
from groundup.cache import cache_path, timed

with timed("squares"):
    path = cache_path("squares", {"n": 4}, suffix=".json")
    if not path.exists():
        path.write_text(str([i * i for i in range(4)]))
print("squares " + path.read_text())
```
"""

PAGES = {
    "index.md": '# Home\n\n```python exec="on"\nprint("home " + str(1 + 1))\n```\n',
    "alpha/one.md": (
        "# One\n\n"
        '```python exec="on" session="s"\nx = 6 * 7\nprint(x)\n```\n\n'
        "Some prose.\n\n"
        '```python exec="on" session="s"\n\nprint("again", x)\n```\n\n'
        "```python\nprint('shown, not run')\n```\n"
    ),
    "alpha/two.md": "# Two\n\n" + ARTEFACT_BLOCK,
    "post-training/three.md": (
        "# Three\n\n"
        # its output is Markdown holding another executed block, run inside this one
        '```python exec="on"\n'
        "print('```python exec=\"on\"')\n"
        "print('print(\"inner \" + str(3 * 3))')\n"
        "print('```')\n"
        "```\n"
    ),
}


def build_tiny_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    config = {
        "site_name": "Profile test",
        "plugins": ["markdown-exec"],
        "markdown_extensions": ["pymdownx.superfences"],
        "hooks": [str(ROOT / "hooks" / "build_profile.py")],
    }
    (site / "docs").mkdir(parents=True, exist_ok=True)
    (site / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for name, text in PAGES.items():
        (site / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (site / "docs" / name).write_text(text, encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[dict, dict, str]:
    """The tiny site built twice with one cache folder: (cold profile, warm profile,
    the second build's log)."""
    tmp_path = tmp_path_factory.mktemp("profile")
    site = build_tiny_site(tmp_path)
    profiles, result = [], None
    for run in ("cold", "warm"):
        result = mkdocs_build(site, tmp_path / run, cache=tmp_path / "cache")
        assert result.returncode == 0, result.stdout + result.stderr
        profiles.append(json.loads((tmp_path / "cache" / "build-profile.json").read_text()))
        assert (
            "squares [0, 1, 4, 9]" in (tmp_path / run / "alpha" / "two" / "index.html").read_text()
        )
    assert result is not None
    return profiles[0], profiles[1], result.stdout + result.stderr


def test_each_executed_block_is_recorded_with_its_page_and_index(two_builds):
    cold, _, _ = two_builds
    blocks = [(b["page"], b["index"], b["first_line"], b["depth"]) for b in cold["blocks"]]
    assert sorted(blocks) == sorted(
        [
            ("index.md", 0, 'print("home " + str(1 + 1))', 0),
            ("alpha/one.md", 0, "x = 6 * 7", 0),
            ("alpha/one.md", 1, 'print("again", x)', 0),  # the first non-blank line
            ("alpha/two.md", 0, "from groundup.cache import cache_path, timed", 0),
            ("post-training/three.md", 0, "print('```python exec=\"on\"')", 0),
            ("post-training/three.md", 1, 'print("inner " + str(3 * 3))', 1),
        ]
    )  # the fence without exec= is not a block
    for block in cold["blocks"]:
        assert block["language"] == "python"
        assert isinstance(block["seconds"], float)  # a figure, never a bound


def test_the_report_is_well_formed_json_with_every_section(two_builds):
    cold, warm, _ = two_builds
    for profile in (cold, warm):
        assert set(profile) == {
            "written_at",
            "cold",
            "blocks",
            "artefacts",
            "chapters",
            "totals",
            "budgets",
        }
        assert profile["budgets"] == {
            "chapter_seconds": hook.CHAPTER_BUDGET_SECONDS,
            "chapters": hook.CHAPTER_BUDGETS,
            "site_seconds": hook.SITE_BUDGET_SECONDS,
            "site_over_budget": profile["budgets"]["site_over_budget"],
        }
        assert isinstance(profile["budgets"]["site_over_budget"], bool)
        assert profile["totals"]["blocks"] == 5  # the nested block is inside its parent's
        assert profile["totals"]["pages"] == 4


def test_chapter_totals_add_up(two_builds):
    cold, _, _ = two_builds
    chapters = {c["name"]: c for c in cold["chapters"]}
    assert set(chapters) == {"(top level)", "alpha", "post-training"}
    for name, chapter in chapters.items():
        own = [b for b in cold["blocks"] if hook.chapter_of(b["page"]) == name]
        outer = [b for b in own if b["depth"] == 0]
        assert chapter["blocks"] == len(outer)
        assert math.isclose(chapter["seconds"], sum(b["seconds"] for b in outer))
        assert set(chapter["pages"]) == {b["page"] for b in own}
    assert chapters["alpha"]["pages"] == ["alpha/one.md", "alpha/two.md"]
    assert math.isclose(
        sum(c["seconds"] for c in chapters.values()), cold["totals"]["block_seconds"]
    )
    assert chapters["alpha"]["budget_seconds"] == 120.0
    assert chapters["post-training"]["budget_seconds"] == 180.0
    assert chapters["(top level)"]["budget_seconds"] is None
    assert chapters["(top level)"]["over_budget"] is None


def test_todays_chapters_and_six_new_ones_fit_the_site_budget():
    """The per-chapter budgets add up: today's two chapters plus six new ones (one of
    them post-training) leave time for rendering within the site's 20 minutes."""
    coming = 5 * hook.CHAPTER_BUDGET_SECONDS + hook.CHAPTER_BUDGETS["post-training"]
    today = hook.CHAPTER_BUDGETS["tokenization"] + hook.CHAPTER_BUDGETS["transformer"]
    assert coming + today <= hook.SITE_BUDGET_SECONDS - 30


def test_over_budget_compares_each_chapter_with_its_own_budget():
    """Given seconds (not measured ones): a chapter over 120 s, one under, post-training
    under its 180 s, and a site over its 20 minutes."""
    blocks = [
        hook.Block("alpha/a.md", 0, "a", "python", seconds=130.0),
        hook.Block("beta/b.md", 0, "b", "python", seconds=10.0),
        hook.Block("post-training/c.md", 0, "c", "python", seconds=150.0),
        hook.Block("index.md", 0, "d", "python", seconds=1.0),
    ]
    profile = hook.report(blocks, [], build_seconds=1300.0)
    over = {c["name"]: c["over_budget"] for c in profile["chapters"]}
    assert over == {"alpha": True, "beta": False, "post-training": False, "(top level)": None}
    assert profile["budgets"]["site_over_budget"] is True
    assert hook.report(blocks, [], build_seconds=1100.0)["budgets"]["site_over_budget"] is False


def test_artefacts_are_recorded_computed_then_loaded(two_builds):
    cold, warm, _ = two_builds
    for profile, computed in ((cold, True), (warm, False)):
        assert [
            (a["name"], a["computed"], a["page"], a["block"]) for a in profile["artefacts"]
        ] == [("squares", computed, "alpha/two.md", 0)]
        assert profile["cold"] is computed
        block = next(b for b in profile["blocks"] if b["page"] == "alpha/two.md")
        assert block["artefacts"] == [0]
        totals = profile["totals"]
        assert (totals["artefacts_computed"], totals["artefacts_loaded"]) == (
            (1, 0) if computed else (0, 1)
        )
        seconds = profile["artefacts"][0]["seconds"]
        assert math.isclose(totals["computed_seconds"], seconds if computed else 0.0)
        assert math.isclose(totals["loaded_seconds"], 0.0 if computed else seconds)
        alpha = next(c for c in profile["chapters"] if c["name"] == "alpha")
        assert math.isclose(alpha["computed_seconds"], seconds if computed else 0.0)


def test_the_build_log_lists_the_slowest_and_the_chapters(two_builds):
    _, warm, log = two_builds
    assert "build profile, warm (nothing computed)" in log
    assert "slowest 10 blocks:" in log and "slowest 10 artefacts:" in log
    assert "alpha/two.md #0  from groundup.cache import cache_path, timed" in log
    assert "loaded    squares  (alpha/two.md #0)" in log
    assert "post-training" in log and "of 180 s" in log
    assert "build-profile.json" in log


def test_summary_lines_keep_the_slowest_first():
    blocks = [
        hook.Block("a/p.md", i, f"line {i}", "python", seconds=s) for i, s in enumerate([1, 3, 2])
    ]
    profile = hook.report(blocks, [], build_seconds=10.0)
    lines = hook.summary_lines(profile, slowest=2)
    assert lines[1] == "slowest 2 blocks:"
    assert [line.split("#")[1] for line in lines[2:4]] == ["1  line 1", "2  line 2"]
    assert profile["totals"]["block_seconds"] == 6
    assert profile["cold"] is False


def test_first_line_skips_blank_lines_and_cuts_long_ones():
    assert hook.first_line("\n\n   x = 1\ny = 2\n") == "x = 1"
    assert hook.first_line("") == ""
    long = hook.first_line("a" * 100, width=10)
    assert long == "a" * 9 + "…"


# ------------------------------------------------------------------ groundup.cache.timed
def test_timed_records_name_seconds_and_what_the_caller_says(timings):
    with cache.timed("tokenizer") as record:
        record.computed = True
    with cache.timed("tokenizer"):
        pass
    assert [(t.name, t.computed, t.depth) for t in timings] == [
        ("tokenizer", True, 0),
        ("tokenizer", False, 0),  # nothing looked up, nothing said: loaded
    ]
    assert all(isinstance(t.seconds, float) for t in timings)  # figures, never bounds


def test_a_timed_call_that_finds_its_cache_entry_missing_computed_it(timings):
    @cache.timed("square")
    def square(n: int) -> int:
        path = cache.cache_path("square", {"n": n}, suffix=".txt")
        if not path.exists():
            path.write_text(str(n * n))
        return int(path.read_text())

    assert square(3) == 9
    assert square(3) == 9
    assert square(4) == 16
    assert [(t.name, t.computed) for t in timings] == [
        ("square", True),
        ("square", False),
        ("square", True),
    ]
    assert timings[0].missing == [cache.cache_path("square", {"n": 3}, suffix=".txt").name]


def test_missing_says_which_file_the_call_makes(timings, tmp_path):
    target = tmp_path / "made.txt"

    @cache.timed("maker", missing=lambda name: tmp_path / name)
    def make(name: str) -> None:
        (tmp_path / name).write_text("x")

    make("made.txt")
    make("made.txt")
    assert target.exists()
    assert [t.computed for t in timings] == [True, False]


def test_nested_timed_calls_have_depth_and_keep_their_own_lookups(timings, monkeypatch):
    ticks = iter(range(100))  # a clock that advances one second per reading
    monkeypatch.setattr(cache.time, "perf_counter", lambda: float(next(ticks)))
    with cache.timed("outer") as outer:
        with cache.timed("inner"):
            cache.cache_path("inner-entry", {})  # missing: the inner call computes
        with cache.timed("inner-loaded"):
            pass
    assert [(t.name, t.depth, t.computed) for t in timings] == [
        ("inner", 1, True),
        ("inner-loaded", 1, False),
        ("outer", 0, False),  # the missing entry was the inner call's, not its own
    ]
    assert [t.seconds for t in timings] == [1.0, 1.0, 5.0]  # the outer call spans both
    assert outer is timings[-1]


def test_a_failing_timed_call_is_recorded_and_its_error_raised(timings):
    with pytest.raises(ValueError, match="boom"):
        with cache.timed("broken"):
            raise ValueError("boom")
    assert [t.name for t in timings] == ["broken"]
    with cache.timed("after"):
        pass
    assert timings[-1].depth == 0  # the failed call left nothing open


# ------------------------------------------------------------------ tools/check.py
def _profile(tmp_path: Path) -> Path:
    blocks = [
        hook.Block("alpha/one.md", 0, "x = 1", "python", seconds=150.0),
        hook.Block("post-training/a.md", 0, "y = 2", "python", seconds=30.0),
        hook.Block("index.md", 0, "z = 3", "python", seconds=1.5),
    ]
    artefacts = [
        {
            "name": "model",
            "seconds": 140.0,
            "computed": True,
            "depth": 0,
            "missing": [],
            "page": "alpha/one.md",
            "block": 0,
        }
    ]
    blocks[0].artefacts = [0]
    path = tmp_path / "build-profile.json"
    path.write_text(json.dumps(hook.report(blocks, artefacts, build_seconds=200.0)))
    return path


def test_check_summary_shows_the_total_and_the_chapters_against_their_budgets(tmp_path):
    lines = check.profile_summary(_profile(tmp_path))
    assert lines[0].startswith("build profile (cold build, ")
    assert (
        "200.0 s of 1200 s; 3 blocks 181.5 s, artefacts 140.0 s computed, 0.0 s loaded"
        in (lines[0])
    )
    assert lines[1:] == [
        "  (top level)                1.5 s, 0.0 s computing artefacts",
        "  alpha                    150.0 s of 120 s (over), 140.0 s computing artefacts",
        "  post-training             30.0 s of 180 s, 0.0 s computing artefacts",
    ]


def test_check_summary_without_a_profile_or_with_a_broken_one(tmp_path):
    missing = tmp_path / "none.json"
    assert check.profile_summary(missing) == [
        f"build profile: none ({missing} is written by a site build)"
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{"totals": {}}')
    (line,) = check.profile_summary(broken)
    assert line.startswith(f"build profile: {broken} is not a profile (KeyError")


def test_check_reads_the_profile_from_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    assert check.profile_path() == tmp_path / "build-profile.json"
    monkeypatch.delenv("GROUNDUP_CACHE_DIR")
    assert check.profile_path() == ROOT / ".cache" / "groundup" / "build-profile.json"
