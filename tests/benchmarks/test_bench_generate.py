"""The generation benchmark's --quick mode: it runs, checks parity first, and reports what it measured.

Runs `benchmarks/bench_generate.py --quick --repeats 1` once into tmp_path (tiny
random models; about 10 s on a quiet machine) and checks the JSON and the
Markdown section against each other. Then, without the script's command line,
that the parity check really stops a run when the two peers disagree.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
import torch

from bench_checks import ROOT, load_script, matches, run_quick, table_rows

SCRIPT = ROOT / "benchmarks" / "bench_generate.py"
START, END = "<!-- generate:start -->", "<!-- generate:end -->"
QUICK_NAMES = ("tiny", "tiny-2")
GAMMAS = list(range(1, 9))

OTHER_SECTION = "<!-- model:start -->\n## Model\n\nKeep me.\n<!-- model:end -->\n"
STALE_SECTION = f"{START}\n## Generation\n\nSTALE NUMBERS\n{END}\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run --quick once into a temp folder whose RESULTS.md already has other sections."""
    return run_quick(
        SCRIPT,
        tmp_path_factory.mktemp("bench_generate"),
        OTHER_SECTION + "\n" + STALE_SECTION,
        ["--quick", "--repeats", "1", "--allow-dirty"],
        timeout=180,
    )


def check_peer(row: dict[str, Any], peer: str, new_tokens: int) -> None:
    """A peer's summary numbers are its raw run times' min, median and max."""
    wall = row[f"{peer}_run_s_all"]
    s = row[f"{peer}_run_spread_s"]
    assert all(t > 0 for t in wall) and len(row[f"{peer}_cpu_s_all"]) == len(wall)
    assert s == {"best": min(wall), "median": statistics.median(wall), "max": max(wall), "n": 1}
    assert row[f"{peer}_best_run_s"] == min(wall)
    assert row[f"{peer}_median_run_s"] == statistics.median(wall)
    assert math.isclose(row[f"{peer}_best_tokens_per_s"], new_tokens / min(wall))
    assert math.isclose(row[f"{peer}_median_tokens_per_s"], new_tokens / statistics.median(wall))


def check_ratio(row: dict[str, Any], key: str, slow: str, fast: str) -> None:
    """key_best / key_median recomputed from the raw times of the same run."""
    slow_s, fast_s = row[f"{slow}_run_s_all"], row[f"{fast}_run_s_all"]
    assert math.isclose(row[f"{key}_best"], min(slow_s) / min(fast_s))
    assert math.isclose(row[f"{key}_median"], statistics.median(slow_s) / statistics.median(fast_s))


def check_spread_cell(cell: str, row: dict[str, Any], peer: str) -> None:
    best, median, slowest = cell.split("/")
    s = row[f"{peer}_run_spread_s"]
    assert matches(best, s["best"]) and matches(median, s["median"])
    assert matches(slowest, s["max"])


def test_section_replaced_and_others_kept(quick_run: dict[str, Any]) -> None:
    md = quick_run["md"]
    assert md.count(START) == 1 and md.count(END) == 1
    assert "STALE NUMBERS" not in md
    assert OTHER_SECTION.strip() in md
    section = md[md.index(START) : md.index(END)]
    for heading in (
        "## Generation",
        "### KV cache",
        "### Ours vs transformers",
        "### Speculative decoding",
        "### Summary",
    ):
        assert heading in section
    for field in ("CPU", "Threads", "torch", "transformers", "groundup commit", "Load average"):
        assert field in section, field
    assert "Quick smoke run" in section and "window slides" in section
    for line in section.splitlines():  # the site's browser test fails wider tables
        if line.startswith("|"):
            assert line.count("|") - 1 <= 8, line


def test_parity_was_checked_before_timing(quick_run: dict[str, Any]) -> None:
    data, out = quick_run["json"], quick_run["stdout"]
    whats = [p["what"] for p in data["parity"]]
    assert whats == [
        "KV cache",
        *(f"ours vs HF {n}" for n in QUICK_NAMES),
        *(f"speculative γ={g}" for g in GAMMAS),
    ]
    assert all(p["ids_compared"] > 0 for p in data["parity"])
    assert data["kv_cache"]["window_slides"] >= 1  # the quick prompt + new tokens overflow
    assert out.index("KV cache: parity ok") < out.index("KV cache: cached")
    for name in QUICK_NAMES:
        assert out.index(f"{name}: parity ok") < out.index(f"{name}: ours")
    assert "in all 11 comparisons: yes" in quick_run["md"]


def test_json_rows_are_built_from_the_timings(quick_run: dict[str, Any]) -> None:
    data = quick_run["json"]
    assert data["settings"]["quick"] is True and data["settings"]["repeats"] == 1
    assert data["publishable"] is False  # --quick
    assert data["machine"]["torch_threads"] == data["settings"]["threads"] == 1
    assert len(data["git"]["commit"]) == 40
    floors = data["floors"]
    kv = data["kv_cache"]
    for peer in ("cached", "uncached"):
        check_peer(kv, peer, kv["new_tokens"])
    check_ratio(kv, "speedup", "uncached", "cached")
    assert kv["floor"] == ("met" if kv["speedup_best"] >= floors["kv_speedup_min"] else "not met")
    assert [r["config"]["name"] for r in data["hf"]] == list(QUICK_NAMES)
    for r in data["hf"]:
        for peer in ("ours", "hf"):
            check_peer(r, peer, r["new_tokens"])
        check_ratio(r, "ours_over_hf", "hf", "ours")
        assert r["floor"] == (
            "met" if r["ours_over_hf_best"] >= floors["ours_over_hf_min"] else "not met"
        )
    sp = data["speculative"]
    assert [r["gamma"] for r in sp["rows"]] == GAMMAS
    tokens = sp["new_tokens"] * len(sp["prompt_ids"])
    for r in sp["rows"]:
        for peer in ("target", "speculative"):
            check_peer(r, peer, tokens)
        check_ratio(r, "speedup", "target", "speculative")
        assert math.isclose(r["acceptance_rate"], r["accepted"] / r["proposed"])
    best = max(sp["rows"], key=lambda r: r["speedup_best"])
    assert sp["best_gamma"] == best["gamma"] and sp["best_speedup"] == best["speedup_best"]
    assert sp["floor"] == (
        "met" if sp["best_speedup"] >= floors["speculative_speedup_min"] else "not met"
    )


def test_markdown_rows_show_the_measured_numbers(quick_run: dict[str, Any]) -> None:
    md, data = quick_run["md"], quick_run["json"]
    kv = data["kv_cache"]
    [cells] = table_rows(md, "### KV cache")
    check_spread_cell(cells[2], kv, "cached")
    check_spread_cell(cells[3], kv, "uncached")
    best, median = cells[4].split("/")
    assert matches(best, kv["speedup_best"]) and matches(median, kv["speedup_median"])
    assert cells[5].startswith(kv["floor"])
    [busy] = table_rows(md, "### KV cache", 1)
    assert matches(busy[1], len(kv["cached_run_s_all"])) and matches(busy[3], kv["load_peak"])

    shapes, rows = table_rows(md, "### Ours vs transformers"), data["hf"]
    assert [c[0] for c in shapes] == list(QUICK_NAMES)
    for cells, r in zip(shapes, rows, strict=True):
        assert matches(cells[6], r["parameters"])
    for cells, r in zip(table_rows(md, "### Ours vs transformers", 1), rows, strict=True):
        for cell, peer in ((cells[1], "ours"), (cells[2], "hf")):
            b, m, s = cell.split("/")
            assert matches(b, r[f"{peer}_best_tokens_per_s"])
            assert matches(m, r[f"{peer}_median_tokens_per_s"])
            assert matches(s, r["new_tokens"] / r[f"{peer}_run_spread_s"]["max"])
        b, m = cells[3].split("/")
        assert matches(b, r["ours_over_hf_best"]) and matches(m, r["ours_over_hf_median"])
        assert cells[4].startswith(r["floor"])

    sp = data["speculative"]
    gamma_rows = table_rows(md, "### Speculative decoding")
    assert [int(c[0]) for c in gamma_rows] == GAMMAS
    for cells, r in zip(gamma_rows, sp["rows"], strict=True):
        check_spread_cell(cells[1], r, "target")
        check_spread_cell(cells[2], r, "speculative")
        b, m = cells[3].split("/")
        assert matches(b, r["speedup_best"]) and matches(m, r["speedup_median"])
        assert matches(cells[4], r["acceptance_rate"]) and matches(cells[5], r["rounds"])
    section = md.split("### Speculative decoding", 1)[1]
    assert f"Best γ: **{sp['best_gamma']}**" in section and f"**{sp['floor']}**" in section
    q = data["int8"]
    f32, int8 = table_rows(md, "### Weight-only int8")
    assert matches(f32[1], q["float32_bytes"] / 1e6) and matches(int8[1], q["int8_bytes"] / 1e6)
    assert matches(f32[2], q["float32_heldout_loss"]) and matches(int8[2], q["int8_heldout_loss"])
    check_spread_cell(f32[3], q, "float32")
    check_spread_cell(int8[3], q, "int8")
    assert q["int8_bytes"] < q["float32_bytes"] and 0 <= q["greedy_ids_equal"] <= q["new_tokens"]
    assert md.split("### Summary", 1)[1].count("\n- ") == 5  # three floors, int8, parity


def test_parity_check_stops_on_a_mismatch() -> None:
    """The parity checks pass for a converted pair and raise for two different models."""
    bench = load_script(SCRIPT)
    shape = bench.QUICK_SHAPES[0]
    hf, ours = bench.build_pair(shape, seed=0)
    _, other_ours = bench.build_pair(shape, seed=1)
    prompt = bench.random_prompt(shape.vocab_size, 8)
    assert bench.hf_parity(hf, ours, prompt, 16)["ids_compared"] == 8 + 16
    with pytest.raises(AssertionError, match="disagree"):
        bench.hf_parity(hf, other_ours, prompt, 16)
    with pytest.raises(AssertionError, match="disagree"):
        bench.check_same_tokens("x", {"a": torch.tensor([[1, 2, 3]]), "b": torch.tensor([[1, 2]])})
    models = bench.quick_models(8)
    assert bench.kv_parity(models.target, models.prompts[0], 16)["ids_compared"] == 8 + 16
    info, stats = bench.spec_parity(models.target, models.draft, models.prompts, 16, 2)
    assert info["ids_compared"] == 3 * (8 + 16) and len(stats) == 3
