"""docs/benchmarks.md and the code behind its published results
(`groundup.pages.benchmarks`): each section leads with a ratio computed from the
results files, never typed; the spread of the repeats is recorded and consistent;
results measured on a dirty tree (or by --quick, or without repeats) are refused;
and the page builds. The attention-memory part is tested in test_benchmarks_memory.py.

The page's executed blocks of the `bench-results` session are run here as the
build runs them (in order, sharing one namespace, from the repository root or a
folder holding altered copies of the results).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from groundup.pages.benchmarks import (
    UnpublishableResults,
    check_spreads,
    load_published,
    results_section,
    time_ratio,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks"
FILES = ("RESULTS.md", "results_tokenizer.json", "results_model.json")
BLOCK = re.compile(r'^```python exec="on"([^\n]*)\n(.*?)\n```', re.M | re.S)


def page_blocks(session: str) -> list[tuple[bool, str]]:
    """(prints HTML?, code) of each executed block of `session`, in page order."""
    return [
        ('html="true"' in opts, code)
        for opts, code in BLOCK.findall(PAGE.read_text(encoding="utf-8"))
        if f'session="{session}"' in opts
    ]


def run_page(
    folder: Path, monkeypatch: pytest.MonkeyPatch, session: str = "bench-results"
) -> list[str]:
    """What each block of `session` prints, run from `folder` (which holds benchmarks/)."""
    monkeypatch.chdir(folder)
    namespace: dict[str, Any] = {}
    outputs = []
    for _, code in page_blocks(session):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102
        outputs.append(buffer.getvalue())
    return outputs


def lead_number(text: str, phrase: str) -> float:
    """The number printed just before `phrase` in a lead sentence ("**... 2.3× slower ...")."""
    match = re.search(r"([\d.]+)× " + re.escape(phrase), text)
    assert match, (phrase, text[:300])
    return float(match.group(1))


# ------------------------------------------------------------ the committed results
@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, Any]]:
    return {
        name: load_published(RESULTS / f"results_{name}.json") for name in ("tokenizer", "model")
    }


def test_committed_results_are_publishable(committed: dict[str, dict[str, Any]]) -> None:
    """Measured on a clean commit, not --quick; every timing's spread is present."""
    for results in committed.values():
        assert results["git"]["dirty"] is False and len(results["git"]["commit"]) == 40
        assert results["publishable"] is True and results["settings"]["quick"] is False
        machine = results["machine"]
        assert machine["cpu"] and machine["usable_cores"] >= 1 and machine["python"]
    tok, model = committed["tokenizer"], committed["model"]
    for r in tok["training"]:
        for peer in ("ours", "tokenizers"):
            assert r[f"{peer}_spread_s"]["n"] == tok["settings"]["repeats"]
    for r in tok["encoding"]:
        for peer in ("ours_cold", "ours_warm", "tiktoken"):
            assert r[f"{peer}_spread_s"]["n"] == tok["settings"]["repeats"]
    for r in model["training"] + model["inference"]:
        for peer in ("ours", "hf"):
            s, wall = r[f"{peer}_step_spread_s"], r[f"{peer}_step_s_all"]
            assert s["n"] == len(wall) == model["settings"]["repeats"] * r["steps_per_block"]
    assert check_spreads(tok) == 5 * len(tok["training"])
    assert check_spreads(model) == 2 * (len(model["training"]) + len(model["inference"]))


def spreads(results: Any) -> list[dict[str, Any]]:
    """Every `*_spread_s` entry in a results file, found independently of check_spreads."""
    found = []
    if isinstance(results, list):
        for item in results:
            found += spreads(item)
    elif isinstance(results, dict):
        for key, value in results.items():
            found += [value] if key.endswith("_spread_s") else spreads(value)
    return found


def test_every_spread_is_ordered(committed: dict[str, dict[str, Any]]) -> None:
    found = spreads(committed["tokenizer"]) + spreads(committed["model"])
    assert len(found) >= 10
    assert all(s["best"] <= s["median"] <= s["max"] for s in found)


def test_the_leads_are_the_committed_ratios(
    committed: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each lead's ratio, recomputed here from the raw repeats, is what the page prints."""
    outputs = run_page(ROOT, monkeypatch)
    tok = committed["tokenizer"]
    enc = next(
        r for r in tok["encoding"] if (r["corpus"], r["vocab_size"]) == ("Tiny Shakespeare", 4096)
    )
    slower = min(enc["ours_cold_all_s"]) / min(enc["tiktoken_all_s"])
    assert lead_number(outputs[0], "slower than tiktoken") == pytest.approx(slower, abs=0.05)
    assert outputs[0].startswith("**Our BPE encoder is")
    site = next(r for r in committed["model"]["training"] if r["config"]["name"] == "site scale")
    faster = min(site["hf_step_s_all"]) / min(site["ours_step_s_all"])
    assert lead_number(outputs[3], "the throughput") == pytest.approx(faster, abs=0.005)
    # the machine and the commit are named in the same sentence as the ratio
    for out, results in ((outputs[0], tok), (outputs[3], committed["model"])):
        assert results["machine"]["cpu"] in out and results["date"] in out
        assert f"`{results['git']['commit'][:7]}` (clean tree)" in out
    # no lead number is typed into the page
    source = PAGE.read_text(encoding="utf-8")
    for number in (f"{slower:.1f}×", f"{faster:.2f}×"):
        assert number not in source


def test_charts_and_full_tables_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = run_page(ROOT, monkeypatch)
    html_blocks = [
        out for (is_html, _), out in zip(page_blocks("bench-results"), outputs) if is_html
    ]
    assert len(html_blocks) == 2
    for svg in html_blocks:
        assert svg.startswith('<div class="gu-figure" role="img" aria-label="')
        assert "<svg" in svg and "currentColor" in svg  # the axes follow the colour scheme
    assert "### Training time" in outputs[2] and "### Encoding throughput" in outputs[2]
    assert "### Training throughput" in outputs[5] and "<!--" not in outputs[2] + outputs[5]


# ------------------------------------------------- altered copies of the results
def _copy(tmp_path: Path, alter: Any = None) -> Path:
    """tmp_path/benchmarks with the committed results; `alter(tok, model)` edits the JSON."""
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text((RESULTS / name).read_text(encoding="utf-8"), "utf-8")
    if alter is not None:
        tok = json.loads((folder / "results_tokenizer.json").read_text())
        model = json.loads((folder / "results_model.json").read_text())
        alter(tok, model)
        (folder / "results_tokenizer.json").write_text(json.dumps(tok))
        (folder / "results_model.json").write_text(json.dumps(model))
    return tmp_path


def _scale_tiktoken(tok: dict[str, Any], model: dict[str, Any]) -> None:
    """Make tiktoken's every repeat twice as fast, keeping the summary fields consistent."""
    for r in tok["encoding"]:
        r["tiktoken_all_s"] = [t / 2 for t in r["tiktoken_all_s"]]
        r["tiktoken_spread_s"] = {
            k: (v / 2 if k != "n" else v) for k, v in r["tiktoken_spread_s"].items()
        }


def test_the_lead_follows_the_results_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = lead_number(run_page(ROOT, monkeypatch)[0], "slower than tiktoken")
    after = lead_number(
        run_page(_copy(tmp_path, _scale_tiktoken), monkeypatch)[0], "slower than tiktoken"
    )
    assert after == pytest.approx(2 * before, abs=0.1)


def _dirty(tok: dict[str, Any], model: dict[str, Any]) -> None:
    tok["git"]["dirty"] = True
    tok["git"]["changes"] = [" M code/groundup/tokenizer/bpe.py"]


def _no_git(tok: dict[str, Any], model: dict[str, Any]) -> None:
    del tok["git"]  # the format before the dirty flag was recorded


def _quick(tok: dict[str, Any], model: dict[str, Any]) -> None:
    tok["settings"]["quick"] = True


def _unmarked(tok: dict[str, Any], model: dict[str, Any]) -> None:
    model["publishable"] = False  # e.g. --allow-dirty, with the tree changed during the run


def _disordered(tok: dict[str, Any], model: dict[str, Any]) -> None:
    s = model["training"][0]["ours_step_spread_s"]
    s["median"], s["max"] = s["max"], s["median"] - 1e-3


def _no_spread(tok: dict[str, Any], model: dict[str, Any]) -> None:
    for key in ("training", "inference"):
        for r in model[key]:
            for peer in ("ours", "hf"):
                del r[f"{peer}_step_spread_s"]


@pytest.mark.parametrize(
    "alter,error",
    [
        (_dirty, "uncommitted changes"),
        (_no_git, "no commit recorded"),
        (_quick, "--quick"),
        (_unmarked, "not publishable"),
        (_disordered, "best <= median <= max"),
        (_no_spread, "no spread of repeats"),
    ],
    ids=["dirty", "no-git", "quick", "unmarked", "disordered-spread", "no-spread"],
)
def test_the_page_refuses_unpublishable_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alter: Any, error: str
) -> None:
    folder = _copy(tmp_path, alter)
    with pytest.raises(UnpublishableResults, match=re.escape(error)):
        run_page(folder, monkeypatch)


def test_a_spread_must_summarise_its_repeats(tmp_path: Path) -> None:
    results = json.loads((RESULTS / "results_tokenizer.json").read_text())
    bad = copy.deepcopy(results)
    bad["encoding"][0]["ours_cold_all_s"][0] *= 0.5  # a faster repeat than the recorded best
    with pytest.raises(UnpublishableResults, match="does not summarise its repeats"):
        check_spreads(bad)


def test_the_tables_must_be_the_same_run(tmp_path: Path) -> None:
    """RESULTS.md is shown only if it names the JSON's date and clean commit."""
    folder = _copy(tmp_path) / "benchmarks"
    results = load_published(folder / "results_model.json")
    assert "### Training throughput" in results_section(folder / "RESULTS.md", "model", results)
    for field, value in (("date", "1999-01-01 00:00 UTC"), ("git", {"commit": "f" * 40})):
        other = {**results, field: value}
        with pytest.raises(UnpublishableResults, match="not the run in its JSON"):
            results_section(folder / "RESULTS.md", "model", other)


# ------------------------------------------------------------------ time_ratio
def test_time_ratio_of_known_repeats() -> None:
    r = time_ratio([2.0, 3.0, 8.0], [1.0, 2.0, 2.0])
    assert (r.best, r.median, r.low, r.high, r.n) == (2.0, 1.5, 1.5, 4.0, 3)
    with pytest.raises(ValueError, match="same number"):
        time_ratio([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        time_ratio([0.0], [1.0])


@given(st.lists(st.tuples(st.floats(0.01, 100), st.floats(0.01, 100)), min_size=1, max_size=12))
def test_time_ratio_properties(pairs: list[tuple[float, float]]) -> None:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    r = time_ratio(a, b)
    assert r.low <= r.high and r.n == len(pairs)
    assert r.best == pytest.approx(min(a) / min(b))
    assert r.median == pytest.approx(statistics.median(a) / statistics.median(b))
    swapped = time_ratio(b, a)
    assert swapped.best == pytest.approx(1 / r.best) and swapped.low == pytest.approx(1 / r.high)


# ------------------------------------------------------------------ the page builds
@pytest.mark.slow
@pytest.mark.linux
def test_the_page_builds(tmp_path: Path) -> None:
    """docs/benchmarks.md alone, built strictly with the real site's Markdown settings
    (from the repository root, where its snippets and results files are); about a
    minute when the attention-memory measurement is not cached."""
    real = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_IgnoreTags)
    docs = tmp_path / "docs"
    docs.mkdir()
    text = PAGE.read_text(encoding="utf-8")
    # its one link to another page, which this one-page site does not have
    text = text.replace("(tokenization/bpe-under-the-hood.md)", "(#benchmarks)")
    (docs / "index.md").write_text(text, encoding="utf-8")
    config = {
        "site_name": "Benchmarks page",
        "docs_dir": str(docs),
        "plugins": ["markdown-exec"],
        "markdown_extensions": real["markdown_extensions"],
        "validation": real["validation"],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(tmp_path / "mkdocs.yml"),
            "-d",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert html.count('<div class="gu-figure"') == 3
    assert "slower than tiktoken" in html and "Traceback" not in html
    assert "<table>" in html


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags such as `!ENV`; only its plain structure is needed."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
_IgnoreTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


# ------------------------------------------------------------ the generation section
def test_the_generation_lead_is_the_committed_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lead of the generation section prints the committed run's ratios, and the
    full section follows it; nothing in it is typed into the page."""
    gen = load_published(RESULTS / "results_generate.json")
    lead, table = run_page(ROOT, monkeypatch, "bench-generate")
    kv, spec = gen["kv_cache"], gen["speculative"]
    assert f"{min(kv['uncached_run_s_all']) / min(kv['cached_run_s_all']):.1f}× faster" in lead
    for r in gen["hf"]:
        assert f"{r['ours_best_tokens_per_s'] / r['hf_best_tokens_per_s']:.2f}× at" in lead
    assert f"at best {spec['best_speedup']:.2f}× as fast as the site model alone" in lead
    assert f"at least as fast, is {spec['floor']}" in lead
    assert f"`{gen['git']['commit'][:7]}` (clean tree)" in lead and gen["date"] in lead
    assert "### KV cache" in table and "### Weight-only int8" in table
    assert f"{kv['speedup_best']:.1f}×" not in PAGE.read_text(encoding="utf-8")
