"""The model benchmark's --quick mode: it runs, checks parity first, and reports what it measured.

Runs `benchmarks/bench_model.py --quick --repeats 1` once into tmp_path (tiny
models, two sequence lengths for memory; about 15 s on a quiet machine, most of
it starting the memory-measuring processes) and checks the JSON and the Markdown
section against each other. Then, without the script's command line, that the
parity check really stops a run when the two models disagree.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
import torch

from bench_checks import ROOT, load_script, matches, number, run_quick, table_rows

SCRIPT = ROOT / "benchmarks" / "bench_model.py"
START, END = "<!-- model:start -->", "<!-- model:end -->"
QUICK_NAMES = ("tiny", "tiny-2")
QUICK_SEQ_LENS = (128, 256)

OTHER_SECTION = "<!-- tokenizer:start -->\n## Tokenizer\n\nKeep me.\n<!-- tokenizer:end -->\n"
STALE_SECTION = f"{START}\n## Model\n\nSTALE NUMBERS\n{END}\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run --quick once into a temp folder whose RESULTS.md already has other sections."""
    return run_quick(
        SCRIPT,
        tmp_path_factory.mktemp("bench_model"),
        OTHER_SECTION + "\n" + STALE_SECTION,
        ["--quick", "--repeats", "1", "--allow-dirty"],
        timeout=180,
    )


def test_section_replaced_and_others_kept(quick_run: dict[str, Any]) -> None:
    md = quick_run["md"]
    assert md.count(START) == 1 and md.count(END) == 1
    assert "STALE NUMBERS" not in md
    assert OTHER_SECTION.strip() in md
    section = md[md.index(START) : md.index(END)]
    for heading in (
        "## Model",
        "### Training throughput",
        "### Inference throughput",
        "### Attention memory: explicit vs SDPA",
        "### Summary",
    ):
        assert heading in section
    for field in (
        "CPU",
        "Threads",
        "torch",
        "transformers",
        "attention implementation `sdpa`",
        "groundup commit",
        "Load average",
        "Quick smoke run",
        "VmHWM",
    ):
        assert field in section, field


def test_parity_was_checked_before_timing(quick_run: dict[str, Any]) -> None:
    data = quick_run["json"]
    tol = data["settings"]["parity_tolerance"]
    assert tol == 1e-5
    assert [p["config"] for p in data["parity"]] == list(QUICK_NAMES)
    for p in data["parity"]:
        for key in (
            "max_abs_logits_diff",
            "abs_loss_diff",
            "abs_hf_labels_loss_diff",
            "max_abs_grad_diff",
            "max_abs_logits_diff_eval",
        ):
            assert 0.0 <= p[key] <= tol, (p["config"], key, p[key])
    # Parity is logged before each config's first timing.
    out = quick_run["stdout"]
    for name in QUICK_NAMES:
        assert out.index(f"{name}: parity ok") < out.index(f"{name}: inference")
    assert "identical within 1e-05 before timing, in every row: yes" in quick_run["md"]


def test_json_throughput_rows_are_built_from_the_timings(quick_run: dict[str, Any]) -> None:
    data = quick_run["json"]
    assert data["settings"]["quick"] is True and data["settings"]["repeats"] == 1
    assert len(data["git"]["commit"]) == 40 and isinstance(data["git"]["dirty"], bool)
    assert data["publishable"] is False  # --quick
    assert data["machine"]["torch_threads"] == data["settings"]["threads"] == 1
    assert data["machine"]["hf_attn_implementation"] == "sdpa"
    load = data["load_average_1min"]
    assert load["peak"] >= max(load["start"], load["end"])
    for key, floor in (
        ("training", data["floors"]["train_ours_over_hf_min"]),
        ("inference", data["floors"]["infer_ours_over_hf_min"]),
    ):
        rows = data[key]
        assert [r["config"]["name"] for r in rows] == list(QUICK_NAMES)
        for r in rows:
            assert r["hf_attn_implementation"] == "sdpa" and r["ours_attention"] == "sdpa"
            tokens = r["config"]["batch"] * r["config"]["seq_len"]
            assert r["tokens_per_step"] == tokens
            assert len(r["ours_step_s_all"]) == len(r["hf_step_s_all"]) == r["steps_per_block"]
            for peer in ("ours", "hf"):
                wall = r[f"{peer}_step_s_all"]
                spread = r[f"{peer}_step_spread_s"]
                assert spread["n"] == len(wall) and spread["max"] == max(wall)
                assert spread["best"] == min(wall) and spread["median"] == statistics.median(wall)
                assert spread["best"] <= spread["median"] <= spread["max"]
                assert all(t > 0 for t in wall)
                assert r[f"{peer}_best_step_s"] == min(wall)
                assert r[f"{peer}_median_step_s"] == statistics.median(wall)
                assert math.isclose(r[f"{peer}_best_tokens_per_s"], tokens / min(wall))
            assert math.isclose(r["ours_over_hf_best"], r["hf_best_step_s"] / r["ours_best_step_s"])
            assert math.isclose(
                r["ours_over_hf_median"], r["hf_median_step_s"] / r["ours_median_step_s"]
            )
            assert r["floor"] == ("met" if r["ours_over_hf_best"] >= floor else "missed")
    for r in data["training"]:
        assert r["max_abs_logits_diff_after_training"] < 1e-3


def test_markdown_rows_show_the_measured_numbers(quick_run: dict[str, Any]) -> None:
    md, data = quick_run["md"], quick_run["json"]
    for heading, key in (
        ("### Training throughput", "training"),
        ("### Inference throughput", "inference"),
    ):
        rows, conditions = table_rows(md, heading), table_rows(md, heading, 1)
        assert [c[0] for c in rows] == [c[0] for c in conditions] == list(QUICK_NAMES)
        for cells, busy, r in zip(rows, conditions, data[key], strict=True):
            tokens = r["config"]["batch"] * r["config"]["seq_len"]
            for cell, peer in ((cells[1], "ours"), (cells[2], "hf")):
                best, median, slowest = cell.split("/")
                assert matches(best, r[f"{peer}_best_tokens_per_s"])
                assert matches(median, r[f"{peer}_median_tokens_per_s"])
                assert matches(slowest, tokens / r[f"{peer}_step_spread_s"]["max"])
            best_ratio, median_ratio = cells[3].split("/")
            assert matches(best_ratio, r["ours_over_hf_best"])
            assert matches(median_ratio, r["ours_over_hf_median"])
            assert r["floor"] in ("met", "missed") and cells[4].startswith(r["floor"])
            assert matches(busy[1], len(r["ours_step_s_all"]))
            assert matches(busy[3], r["load_peak"])
    shapes = table_rows(md, "### Models")
    assert [c[0] for c in shapes] == list(QUICK_NAMES)
    for cells, r in zip(shapes, data["training"], strict=True):
        assert matches(cells[7], r["parameters"])
    summary = md.split("### Summary", 1)[1]
    assert summary.count("\n- ") == 4  # two floors, memory, parity


def test_memory_measured_for_both_attentions_and_passes(quick_run: dict[str, Any]) -> None:
    mem = quick_run["json"]["memory"]
    assert mem["seq_lens"] == list(QUICK_SEQ_LENS)
    keys = {(r["attention"], r["backward"], r["seq_len"]) for r in mem["rows"]}
    assert keys == {
        (a, b, t) for a in ("explicit", "sdpa") for b in (False, True) for t in QUICK_SEQ_LENS
    }
    for r in mem["rows"]:
        assert r["reset"] is True and r["floor_bytes"] == 0
        assert r["extra_bytes"] >= 0
        assert r["peak_rss_bytes"] == r["rss_before_bytes"] + r["extra_bytes"]
        # a fresh process holding torch and a model: far from empty, far from the parent's size
        assert 50e6 < r["rss_before_bytes"] < 2e9
    heading = "### Attention memory: explicit vs SDPA"
    for index, tag in enumerate(("fwd", "fwd_bwd")):
        rows = table_rows(quick_run["md"], heading, index)
        assert [int(number(c[0])[0]) for c in rows] == list(QUICK_SEQ_LENS)
        for cells, e in zip(rows, mem["table"], strict=True):
            assert matches(cells[2], e[f"explicit_{tag}_mb"])
            assert matches(cells[3], e[f"sdpa_{tag}_mb"])
            assert matches(cells[4], e[f"explicit_over_sdpa_{tag}"])


def test_parity_check_stops_on_a_mismatch() -> None:
    """check_parity passes for a converted pair and raises once one weight differs."""
    bench = load_script(SCRIPT)
    cfg = bench.QUICK_CONFIGS[0]
    hf, ours = bench.build_pair(cfg)
    x, y = bench.batch_for(cfg)
    assert bench.check_parity(hf, ours, x, y)["max_abs_logits_diff"] <= 1e-5
    with torch.no_grad():
        ours.blocks[0].mlp.fc.bias[0] += 1e-2
    with pytest.raises(AssertionError, match="disagree"):
        bench.check_parity(hf, ours, x, y)
