"""The tokenizer benchmark's --quick mode: it runs, and its report is built from its measurements.

Runs `benchmarks/bench_tokenizer.py --quick` once (about 10 s) into tmp_path and
checks the Markdown against the JSON: every row present, every printed number
equal to the raw one up to its printed rounding, every ratio equal to the quotient
of the measured times, and the ids-identical check recorded.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from bench_checks import ROOT, load_script, matches, run_quick, table_rows
from groundup.tokenizer import BPETokenizer

SCRIPT = ROOT / "benchmarks" / "bench_tokenizer.py"
START, END = "<!-- tokenizer:start -->", "<!-- tokenizer:end -->"
QUICK_VOCABS = (320, 512)
CORPORA = ("Tiny Shakespeare", "default corpus")
NAIVE_CAP_S = 1.0

OTHER_SECTION = "<!-- other:start -->\n## Some other chapter\n\nKeep me.\n<!-- other:end -->\n"
STALE_SECTION = f"{START}\n## Tokenizer\n\nSTALE NUMBERS\n{END}\n"


@pytest.fixture(scope="module")
def quick_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run --quick once into a temp folder whose RESULTS.md already has other sections."""
    return run_quick(
        SCRIPT,
        tmp_path_factory.mktemp("bench"),
        OTHER_SECTION + "\n" + STALE_SECTION,
        [
            "--quick",
            "--allow-dirty",
            "--repeats",
            "2",
            "--naive-cap",
            str(NAIVE_CAP_S),
            "--shakespeare",
            str(shared_data / "tinyshakespeare.txt"),
        ],
        timeout=120,
    )


def check_spread(spread: dict[str, Any], repeats: list[float]) -> None:
    """A recorded spread is the best, median and slowest of every recorded repeat."""
    assert spread["n"] == len(repeats)
    assert spread["best"] == min(repeats) and spread["max"] == max(repeats)
    assert spread["median"] == statistics.median(repeats)
    assert spread["best"] <= spread["median"] <= spread["max"]


def check_spread_cell(cell: str, spread: dict[str, Any], scale: float = 1.0) -> None:
    """A "best / median / slowest" cell shows the three, each scaled by `scale`
    (seconds: 1; throughput: bytes / 1e6, divided by the time)."""
    parts = [p.strip() for p in cell.split("/")]
    assert len(parts) == 3, cell
    for part, key in zip(parts, ("best", "median", "max"), strict=True):
        raw = spread[key] if scale == 1.0 else scale / spread[key]
        assert matches(part, raw), (cell, key, raw)


def _table(md: str, heading: str, index: int = 0) -> dict[tuple[str, int], list[str]]:
    """Rows of table `index` under `heading`, keyed by (corpus, vocab)."""
    return {(c[0], int(c[1])): c for c in table_rows(md, heading, index)}


def test_section_replaced_and_others_kept(quick_run: dict[str, Any]) -> None:
    md = quick_run["md"]
    assert md.count(START) == 1 and md.count(END) == 1
    assert "STALE NUMBERS" not in md
    assert OTHER_SECTION.strip() in md
    section = md[md.index(START) : md.index(END)]
    for heading in ("## Tokenizer", "### Training time", "### Encoding throughput", "### Summary"):
        assert heading in section
    for field in ("CPU", "Python", "tiktoken", "tokenizers", "groundup commit", "Quick smoke run"):
        assert field in section
    commit = quick_run["json"]["git"]["commit"][:7]
    dirty = quick_run["json"]["git"]["dirty"]
    assert f"| groundup commit | {commit} " in section
    assert ("**not publishable**" in section) == dirty


def test_json_ratios_are_quotients_of_measured_times(quick_run: dict[str, Any]) -> None:
    data = quick_run["json"]
    assert data["machine"]["rayon_num_threads"] == "1"
    assert data["settings"]["quick"] is True
    # the commit is recorded, and a --quick run is never publishable
    assert len(data["git"]["commit"]) == 40 and isinstance(data["git"]["dirty"], bool)
    assert data["publishable"] is False
    load = data["load_average_1min"]
    assert load["peak"] >= max(load["start"], load["end"])
    train = {(r["corpus"], r["vocab_size"]): r for r in data["training"]}
    enc = {(r["corpus"], r["vocab_size"]): r for r in data["encoding"]}
    assert set(train) == set(enc) == {(c, v) for c in CORPORA for v in QUICK_VOCABS}

    for r in train.values():
        assert len(r["ours_all_s"]) == len(r["tokenizers_all_s"]) == 2
        assert r["ours_s"] == min(r["ours_all_s"])
        assert r["tokenizers_s"] == min(r["tokenizers_all_s"])
        check_spread(r["ours_spread_s"], r["ours_all_s"])
        check_spread(r["tokenizers_spread_s"], r["tokenizers_all_s"])
        assert r["ours_vocab_size"] == r["tokenizers_vocab_size"] == r["vocab_size"]
        assert math.isclose(r["ours_over_tokenizers"], r["ours_s"] / r["tokenizers_s"])
        assert r["floor_tokenizers"] == ("met" if r["ours_over_tokenizers"] <= 3 else "not met")
        if r["naive_status"] == "completed":
            assert not r["naive_ratio_is_lower_bound"]
            assert math.isclose(r["naive_over_ours"], r["naive_s"] / r["ours_s"])
            assert r["naive_merges_identical"] is True
            assert 0 < r["naive_cpu_s"] <= r["naive_s"] * 1.1 + 0.1
        else:
            assert r["naive_status"] == "capped" and r["naive_ratio_is_lower_bound"]
            assert r["naive_s"] is None and r["naive_cap_s"] == NAIVE_CAP_S
            assert math.isclose(r["naive_over_ours"], NAIVE_CAP_S / r["ours_s"])
    # The smaller vocab always runs the naive trainer to completion.
    assert all(train[c, QUICK_VOCABS[0]]["naive_status"] == "completed" for c in CORPORA)

    for r in enc.values():
        assert r["ids_identical"] is True
        for peer in ("ours_cold", "ours_warm", "tiktoken"):
            assert r[f"{peer}_s"] == min(r[f"{peer}_all_s"])
            check_spread(r[f"{peer}_spread_s"], r[f"{peer}_all_s"])
            assert math.isclose(r[f"{peer}_mb_per_s"], r["bytes"] / r[f"{peer}_s"] / 1e6)
        assert math.isclose(r["ours_cold_over_tiktoken"], r["tiktoken_s"] / r["ours_cold_s"])
        assert math.isclose(r["ours_warm_over_tiktoken"], r["tiktoken_s"] / r["ours_warm_s"])
        assert r["floor_tiktoken"] == ("met" if r["ours_cold_over_tiktoken"] >= 0.2 else "not met")


def test_markdown_rows_show_the_measured_numbers(quick_run: dict[str, Any]) -> None:
    md, data = quick_run["md"], quick_run["json"]
    train_rows, naive_rows = _table(md, "### Training time"), _table(md, "### Training time", 1)
    enc_rows = _table(md, "### Encoding throughput")
    ratio_rows = _table(md, "### Encoding throughput", 1)
    keys = {(c, v) for c in CORPORA for v in QUICK_VOCABS}
    assert set(train_rows) == set(naive_rows) == set(enc_rows) == set(ratio_rows) == keys

    for r in data["training"]:
        _, _, ours, hf, hf_ratio, floor_hf = train_rows[r["corpus"], r["vocab_size"]]
        _, _, naive, naive_ratio, same, floor_naive = naive_rows[r["corpus"], r["vocab_size"]]
        assert matches(ours, r["ours_s"]) and matches(hf, r["tokenizers_s"])
        check_spread_cell(ours, r["ours_spread_s"])
        check_spread_cell(hf, r["tokenizers_spread_s"])
        assert matches(hf_ratio, r["ours_s"] / r["tokenizers_s"])
        if r["naive_ratio_is_lower_bound"]:
            assert naive.startswith(">") and "cap" in naive
            assert naive_ratio.startswith("≥") and "lower bound" in naive_ratio
            assert matches(naive_ratio, r["naive_cap_s"] / r["ours_s"])
        else:
            assert matches(naive, r["naive_s"])
            assert not naive_ratio.startswith("≥")
            assert matches(naive_ratio, r["naive_s"] / r["ours_s"])
            assert same == "yes"
        assert (floor_naive, floor_hf) == (r["floor_naive"], r["floor_tokenizers"])

    for r in data["encoding"]:
        _, _, tokens, cold, warm, tk = enc_rows[r["corpus"], r["vocab_size"]]
        _, _, cold_ratio, warm_ratio, identical, floor = ratio_rows[r["corpus"], r["vocab_size"]]
        assert matches(tokens, r["tokens"])
        assert matches(cold, r["ours_cold_mb_per_s"]) and matches(warm, r["ours_warm_mb_per_s"])
        assert matches(tk, r["tiktoken_mb_per_s"])
        for cell, peer in ((cold, "ours_cold"), (warm, "ours_warm"), (tk, "tiktoken")):
            check_spread_cell(cell, r[f"{peer}_spread_s"], scale=r["bytes"] / 1e6)
        assert matches(cold_ratio, r["ours_cold_mb_per_s"] / r["tiktoken_mb_per_s"])
        assert matches(warm_ratio, r["ours_warm_mb_per_s"] / r["tiktoken_mb_per_s"])
        assert identical == "yes" and floor == r["floor_tiktoken"]

    summary = md.split("### Summary", 1)[1]
    assert summary.count("\n- ") == 4  # one line per floor, plus ids identical
    assert "Ids identical to tiktoken's in every encoding: yes" in summary
    for line, floor in zip(summary.split("\n- ")[1:3], ("floor_naive", "floor_tokenizers")):
        met = sum(r[floor] == "met" for r in data["training"])  # "met in 3 of 4 rows", say
        assert f"met in {met} of {len(data['training'])} rows" in line, line


def test_encoding_benchmark_stops_when_ids_differ(
    shakespeare: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_encoding compares ours (cold and warm) with tiktoken and raises on a mismatch."""
    bench = load_script(SCRIPT)
    text = shakespeare[:3000]
    tok = BPETokenizer.train(text, 300)
    assert bench.bench_encoding(text, tok, repeats=1)["ids_identical"] is True

    class WrongTiktoken:
        def encode_ordinary(self, text: str) -> list[int]:
            return tok.encode_ordinary(text)[:-1]

    monkeypatch.setattr(bench, "to_tiktoken", lambda _tok: WrongTiktoken())
    with pytest.raises(AssertionError, match="ids differ"):
        bench.bench_encoding(text, tok, repeats=1)
