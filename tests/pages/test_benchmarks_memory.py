"""`groundup.pages.benchmarks`: the peak-memory measurement sees what it should.

A calibration first (a known allocation is measured at its size, freed or not),
then the property the benchmark and the site rely on: explicit attention's extra
memory grows about four-fold when T doubles and holds at least a full score
matrix, while SDPA's stays far below one. A broken measurement (always 0, or
stuck at an inherited peak, or counting the baseline) fails these. About 10 s.
"""

from __future__ import annotations

import pytest
import torch

from groundup.model import GPTConfig
from groundup.pages.benchmarks import (
    MB,
    attention_matrix_bytes,
    attention_memory_sweep,
    measure_peak_rss,
)

pytestmark = pytest.mark.linux  # /proc/self/statm, VmHWM and clear_refs

N_FLOATS = 16 * 2**20  # 64 MiB of float32
SIZE = 4 * N_FLOATS


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "freed"])
def test_known_allocation_is_measured_at_its_size(keep: bool) -> None:
    """64 MiB, touched: kept (returned) or freed before `fn` returns, it is counted once."""

    def fn() -> torch.Tensor | float:
        t = torch.ones(N_FLOATS)
        return t if keep else float(t[-1])

    m, result = measure_peak_rss(fn)
    assert m.reset, "could not reset the peak-RSS mark (/proc/self/clear_refs)"
    assert m.floor_bytes == 0
    assert 0.97 * SIZE <= m.extra_bytes <= SIZE + 16 * 2**20, m
    assert m.peak_rss_bytes == m.rss_before_bytes + m.extra_bytes
    del result


def test_baseline_is_not_counted() -> None:
    """Memory held before the step is in the baseline, not in the extra."""
    held = torch.ones(N_FLOATS)
    m, _ = measure_peak_rss(lambda: float(held.sum()))
    assert m.extra_bytes < 8 * 2**20, m
    assert m.rss_before_bytes >= SIZE


CONFIG = GPTConfig(vocab_size=256, n_layer=1, n_head=4, d_model=64)
SEQ_LENS = (1024, 2048)


@pytest.fixture(scope="module")
def sweep() -> dict[tuple[str, int], dict]:
    rows = attention_memory_sweep(CONFIG, SEQ_LENS, workers=2)
    return {(r["attention"], r["seq_len"]): r for r in rows}


def test_every_child_reset_its_peak(sweep: dict) -> None:
    assert all(r["reset"] and r["floor_bytes"] == 0 for r in sweep.values())
    # The children's baseline holds torch and the model, far more than the step at T=1024.
    assert all(r["rss_before_bytes"] > 50 * MB for r in sweep.values())


def test_explicit_attention_memory_is_quadratic(sweep: dict) -> None:
    small, large = (sweep["explicit", t]["extra_bytes"] for t in SEQ_LENS)
    scores = attention_matrix_bytes(CONFIG, SEQ_LENS[1])
    assert scores == 4 * 4 * 2048 * 2048
    # scores, then softmax's output: at least one full (B, H, T, T) matrix is held
    assert large >= scores, (large, scores)
    assert large <= 4 * scores, (large, scores)
    # doubling T multiplies it by about 4 (linear growth would give 2)
    assert 3.0 <= large / small <= 5.0, (small, large)


def test_sdpa_never_holds_the_score_matrix(sweep: dict) -> None:
    scores = attention_matrix_bytes(CONFIG, SEQ_LENS[1])
    sdpa = sweep["sdpa", SEQ_LENS[1]]["extra_bytes"]
    explicit = sweep["explicit", SEQ_LENS[1]]["extra_bytes"]
    assert sdpa < 0.25 * scores, (sdpa, scores)
    assert 4 * sdpa < explicit, (sdpa, explicit)
