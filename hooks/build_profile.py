"""The build profile: where a site build's time goes (an MkDocs hook).

What it times
    Every executed block: markdown-exec registers one SuperFences custom fence per
    language (`python`, `pycon`, `bash`, ...) in `on_config`; this hook, listed after
    the plugins, wraps each of those fences' `format` function, so the time of a block
    is the time markdown-exec took to run it and render its output. A block is known
    by its page (`docs/` path), its index on that page (0, 1, ... in page order) and
    its first line. A block that runs inside another's rendered output (rare) is
    recorded with `depth` 1 and left out of the totals, which its parent includes.

    Every cached artefact the blocks train or load, from `groundup.cache.TIMINGS`:
    each call wrapped in `groundup.cache.timed` (the site tokenizer, its token files,
    the site model and the pages' cached experiments) with its seconds and whether it
    was computed or loaded. Each is attributed to the block that was running.

What it reports (`on_post_build`)
    The slowest blocks and artefacts, and each chapter's total (a chapter is a folder
    of `docs/`; top-level pages count as "(top level)") against its budget: 2 minutes
    of cold compute per chapter, 3 for `post-training`, 20 minutes for the whole site
    (CONTRIBUTING.md, "Budgets"). On a warm build (nothing computed) the totals are
    warm times, not cold compute; the report says which it was. Budgets are figures
    to read, never a failure: the build passes whatever the times.

    The same as JSON, written atomically to `<cache folder>/build-profile.json`
    (`$GROUNDUP_CACHE_DIR`, see `groundup.cache.cache_dir`), which `tools/check.py`
    summarises: `blocks` (page, index, first_line, language, seconds, depth,
    artefacts), `artefacts` (name, seconds, computed, depth, page, block),
    `chapters` (name, pages, blocks, seconds, computed_seconds, budget_seconds,
    over_budget), `totals` and `budgets`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mkdocs.plugins import get_plugin_logger

from groundup import cache
from groundup.atomic import atomic_write_text

log = get_plugin_logger("profile")

SLOWEST = 10  # blocks and artefacts listed in the build log
CHAPTER_BUDGET_SECONDS = 120.0  # cold compute of a new chapter
# Chapters with another budget. Today's two share what the six coming chapters leave of
# the site's 20 min (5 x 120 s + 180 s for post-training = 780 s): 90 s + 300 s, so that
# all eight fit with 30 s to spare for the top-level pages and rendering (CONTRIBUTING.md,
# "Budgets").
CHAPTER_BUDGETS = {"post-training": 180.0, "tokenization": 90.0, "transformer": 300.0}
SITE_BUDGET_SECONDS = 1200.0  # a cold `mkdocs build --strict` of the whole site
TOP_LEVEL = "(top level)"
REPORT_NAME = "build-profile.json"


@dataclass
class Block:
    """One executed block: where it is, what it starts with, how long it ran."""

    page: str  # path under docs/, e.g. "transformer/scaling.md"
    index: int  # 0-based, in the order the page's blocks ran
    first_line: str
    language: str
    seconds: float = 0.0
    depth: int = 0  # 1 for a block run inside another block's output
    artefacts: list[int] = field(default_factory=list)  # indices into the artefact list


@dataclass
class _State:
    started: float = 0.0
    page: str = TOP_LEVEL
    next_index: int = 0
    depth: int = 0
    blocks: list[Block] = field(default_factory=list)
    artefacts: list[dict[str, Any]] = field(default_factory=list)


_state = _State()


def chapter_of(page: str) -> str:
    """The chapter a page belongs to: its first folder under docs/."""
    return page.split("/", 1)[0] if "/" in page else TOP_LEVEL


def budget_of(chapter: str) -> float | None:
    """A chapter's budget of cold compute in seconds (None for top-level pages)."""
    if chapter == TOP_LEVEL:
        return None
    return CHAPTER_BUDGETS.get(chapter, CHAPTER_BUDGET_SECONDS)


def first_line(source: str, width: int = 80) -> str:
    """The block's first non-blank line, cut to `width` characters."""
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def timed_format(format: Callable[..., str]) -> Callable[..., str]:
    """Wrap a SuperFences `format` function so each call is recorded as a `Block`."""
    if getattr(format, "_gu_profiled", False):
        return format

    def wrapper(source: str, language: str, *args: Any, **kwargs: Any) -> str:
        block = Block(_state.page, _state.next_index, first_line(source), language)
        block.depth = _state.depth
        _state.next_index += 1
        _state.blocks.append(block)
        seen = len(cache.TIMINGS)
        _state.depth += 1
        started = time.perf_counter()
        try:
            return format(source, language, *args, **kwargs)
        finally:
            block.seconds = time.perf_counter() - started
            _state.depth -= 1
            for timing in cache.TIMINGS[seen:]:
                block.artefacts.append(len(_state.artefacts))
                _state.artefacts.append(
                    {**asdict(timing), "page": block.page, "block": block.index}
                )
            del cache.TIMINGS[seen:]  # each artefact belongs to the innermost block

    wrapper._gu_profiled = True  # type: ignore[attr-defined]
    return wrapper


def on_config(config: Any) -> Any:
    """Wrap markdown-exec's fences (its `on_config` ran before this hook's)."""
    global _state
    _state = _State(started=time.perf_counter())  # a new build (mkdocs serve rebuilds)
    cache.TIMINGS.clear()
    fences = config["mdx_configs"].get("pymdownx.superfences", {}).get("custom_fences", [])
    for fence in fences:
        if getattr(fence.get("format"), "__module__", "").startswith("markdown_exec"):
            fence["format"] = timed_format(fence["format"])
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Note which page renders next (MkDocs renders one page at a time)."""
    _state.page = page.file.src_uri
    _state.next_index = 0
    return markdown


def report(
    blocks: list[Block], artefacts: list[dict[str, Any]], build_seconds: float
) -> dict[str, Any]:
    """The profile as a JSON-ready dict (see the module docstring for its fields)."""
    chapters: dict[str, dict[str, Any]] = {}
    for block in blocks:
        name = chapter_of(block.page)
        chapter = chapters.setdefault(
            name,
            {"name": name, "pages": [], "blocks": 0, "seconds": 0.0, "computed_seconds": 0.0},
        )
        if block.page not in chapter["pages"]:
            chapter["pages"].append(block.page)
        if block.depth == 0:
            chapter["blocks"] += 1
            chapter["seconds"] += block.seconds
    for artefact in artefacts:
        if artefact["depth"] == 0 and artefact["computed"]:
            chapters[chapter_of(artefact["page"])]["computed_seconds"] += artefact["seconds"]
    for chapter in chapters.values():
        budget = budget_of(chapter["name"])
        chapter["budget_seconds"] = budget
        chapter["over_budget"] = None if budget is None else chapter["seconds"] > budget
    top = [a for a in artefacts if a["depth"] == 0]
    computed = sum(a["seconds"] for a in top if a["computed"])
    block_seconds = sum(b.seconds for b in blocks if b.depth == 0)
    return {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cold": any(a["computed"] for a in artefacts),
        "blocks": [asdict(b) for b in blocks],
        "artefacts": artefacts,
        "chapters": sorted(chapters.values(), key=lambda c: c["name"]),
        "totals": {
            "build_seconds": build_seconds,
            "block_seconds": block_seconds,
            "blocks": sum(1 for b in blocks if b.depth == 0),
            "pages": len({b.page for b in blocks}),
            "artefact_seconds": sum(a["seconds"] for a in top),
            "computed_seconds": computed,
            "loaded_seconds": sum(a["seconds"] for a in top if not a["computed"]),
            "artefacts_computed": sum(1 for a in artefacts if a["computed"]),
            "artefacts_loaded": sum(1 for a in artefacts if not a["computed"]),
        },
        "budgets": {
            "chapter_seconds": CHAPTER_BUDGET_SECONDS,
            "chapters": dict(CHAPTER_BUDGETS),
            "site_seconds": SITE_BUDGET_SECONDS,
            "site_over_budget": build_seconds > SITE_BUDGET_SECONDS,
        },
    }


def summary_lines(profile: dict[str, Any], slowest: int = SLOWEST) -> list[str]:
    """The build log's account of a profile: slowest blocks and artefacts, chapters."""
    totals = profile["totals"]
    kind = "cold (artefacts computed)" if profile["cold"] else "warm (nothing computed)"
    lines = [
        f"build profile, {kind}: build {totals['build_seconds']:.1f} s, "
        f"{totals['blocks']} blocks {totals['block_seconds']:.1f} s, artefacts "
        f"{totals['computed_seconds']:.1f} s computed + {totals['loaded_seconds']:.1f} s loaded "
        f"(site budget {profile['budgets']['site_seconds'] / 60:.0f} min)",
        f"slowest {slowest} blocks:",
    ]
    blocks = sorted(profile["blocks"], key=lambda b: -b["seconds"])[:slowest]
    lines += [
        f"  {b['seconds']:7.2f} s  {b['page']} #{b['index']}  {b['first_line']}" for b in blocks
    ]
    lines.append(f"slowest {slowest} artefacts:")
    artefacts = sorted(profile["artefacts"], key=lambda a: -a["seconds"])[:slowest]
    lines += [
        f"  {a['seconds']:7.2f} s  {'computed' if a['computed'] else 'loaded  '}  "
        f"{a['name']}  ({a['page']} #{a['block']})"
        for a in artefacts
    ]
    lines.append("chapters (seconds of executed blocks; budget of cold compute):")
    lines += [chapter_line(c) for c in profile["chapters"]]
    return lines


def chapter_line(chapter: dict[str, Any]) -> str:
    """One chapter's total against its budget, e.g. `tokenization  41.2 s of 120 s`."""
    budget = chapter["budget_seconds"]
    verdict = "" if budget is None else f" of {budget:.0f} s"
    if chapter["over_budget"]:
        verdict += " (over)"
    return (
        f"  {chapter['name']:<16} {chapter['seconds']:7.1f} s{verdict}, "
        f"{chapter['computed_seconds']:.1f} s computing artefacts, {chapter['blocks']} blocks"
    )


def on_post_build(config: Any) -> None:
    """Log the profile and write it to `<cache folder>/build-profile.json`."""
    profile = report(_state.blocks, _state.artefacts, time.perf_counter() - _state.started)
    for line in summary_lines(profile):
        log.info(line)
    path = cache.cache_dir() / REPORT_NAME
    atomic_write_text(path, json.dumps(profile, indent=1) + "\n")
    log.info(f"build profile written to {path}")
