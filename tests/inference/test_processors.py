"""Each logits processor against its transformers counterpart, bit for bit, plus the
properties sampling must have and the errors bad settings must raise."""

from __future__ import annotations

import math
from typing import cast

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from groundup.inference.processors import (
    SamplingSettings,
    apply_temperature,
    min_p_filter,
    repetition_penalty,
    sample,
    top_k_filter,
    top_p_filter,
)

SHAPES = [(1, 7), (3, 50), (4, 257)]
DTYPES = [torch.float32, torch.float64, torch.bfloat16]


def random_logits(
    shape: tuple[int, int], dtype: torch.dtype = torch.float32, seed: int = 0, scale: float = 3.0
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def integer_logits(shape: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Few distinct values, so many ties, including at the top-k / top-p boundary."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-3, 4, shape, generator=g).float()


def random_ids(batch: int, vocab: int, length: int, seed: int = 0) -> torch.LongTensor:
    """(batch, length) ids in [0, vocab), typed as transformers' processors expect."""
    g = torch.Generator().manual_seed(seed)
    return cast(torch.LongTensor, torch.randint(0, vocab, (batch, length), generator=g))


def no_ids(logits: torch.Tensor) -> torch.LongTensor:
    """The input_ids argument that transformers' warpers take and ignore."""
    return cast(torch.LongTensor, torch.zeros(logits.size(0), 1, dtype=torch.long))


def edge_cases() -> list[torch.Tensor]:
    """Rows that stress ties, -inf, extreme magnitudes and rows that keep different counts."""
    one_left = torch.full((2, 9), -math.inf)
    one_left[0, 4] = 0.5
    one_left[1, 0] = -7.0
    mixed = torch.stack(
        [
            torch.tensor([10.0, 0, 0, 0, 0, 0, 0, 0]),  # one id has all the mass
            torch.zeros(8),  # flat: everything ties
            torch.arange(8.0),  # strictly ordered
            torch.tensor([2.0, 2, 2, 1, 1, 0, -math.inf, -math.inf]),
        ]
    )
    return [
        integer_logits((3, 40)),
        integer_logits((5, 6), seed=1),
        one_left,
        mixed,
        random_logits((3, 30), scale=1e4),  # huge gaps: softmax underflows to 0
        random_logits((3, 30), scale=1e-6),  # nearly flat
        torch.tensor([[3e38, -3e38, 0.0, 1e38]]),  # near float32's limits
    ]


def assert_same(ours: torch.Tensor, ref: torch.Tensor) -> None:
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert torch.equal(torch.isneginf(ours), torch.isneginf(ref))
    assert torch.equal(ours, ref)


# ------------------------------------------------------------ against transformers
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [1e-4, 0.3, 1.0, 2.5])
def test_temperature_matches_hf(shape, dtype, temperature):
    logits = random_logits(shape, dtype)
    ref = TemperatureLogitsWarper(temperature)(no_ids(logits), logits)
    assert_same(apply_temperature(logits, temperature), ref)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 5, 7, 1000])
def test_top_k_matches_hf(shape, dtype, k):
    logits = random_logits(shape, dtype)
    assert_same(top_k_filter(logits, k), TopKLogitsWarper(k)(no_ids(logits), logits))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("top_p", [0.01, 0.3, 0.9, 0.999, 1.0])
def test_top_p_matches_hf(shape, dtype, top_p):
    logits = random_logits(shape, dtype)
    assert_same(top_p_filter(logits, top_p), TopPLogitsWarper(top_p)(no_ids(logits), logits))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("min_p", [0.0, 0.05, 0.3, 1.0])
def test_min_p_matches_hf(shape, dtype, min_p):
    logits = random_logits(shape, dtype)
    assert_same(min_p_filter(logits, min_p), MinPLogitsWarper(min_p)(no_ids(logits), logits))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.3, 3.0])
def test_repetition_penalty_matches_hf(shape, dtype, penalty):
    logits = random_logits(shape, dtype)
    ids = random_ids(shape[0], shape[1], 12, seed=1)
    ids[:, 1] = ids[:, 0]  # a repeated id is still penalised once
    before = logits.clone()
    ref = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    assert_same(repetition_penalty(logits, ids, penalty), ref)
    assert torch.equal(logits, before)  # input untouched


@pytest.mark.parametrize("case", range(len(edge_cases())))
def test_edge_cases_match_hf(case):
    logits = edge_cases()[case]
    ids = no_ids(logits)
    V = logits.size(-1)
    for k in [1, 3, V, V + 5]:
        assert_same(top_k_filter(logits, k), TopKLogitsWarper(k)(ids, logits))
    for top_p in [0.2, 0.5, 0.95, 1.0]:
        assert_same(top_p_filter(logits, top_p), TopPLogitsWarper(top_p)(ids, logits))
    for min_p in [0.0, 0.1, 0.5, 1.0]:
        assert_same(min_p_filter(logits, min_p), MinPLogitsWarper(min_p)(ids, logits))
    for t in [1e-4, 0.5, 3.0]:
        assert_same(apply_temperature(logits, t), TemperatureLogitsWarper(t)(ids, logits))
    seen = cast(torch.LongTensor, torch.arange(V).repeat(logits.size(0), 1))  # all seen
    for penalty in [0.7, 1.5]:
        ref = RepetitionPenaltyLogitsProcessor(penalty)(seen, logits.clone())
        assert_same(repetition_penalty(logits, seen, penalty), ref)


def test_rows_keep_different_counts():
    logits = edge_cases()[3]  # peaked, flat, ordered, tied
    kept_p = torch.isfinite(top_p_filter(logits, 0.5)).sum(-1).tolist()
    kept_k = torch.isfinite(top_k_filter(logits, 2)).sum(-1).tolist()
    assert kept_p == [1, 4, 1, 2]  # e^7 alone is 63% of arange(8)
    assert kept_k == [8, 8, 2, 3]  # ties with the 2nd highest stay


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 4),
    vocab=st.integers(1, 40),
    ties=st.booleans(),
    k=st.integers(1, 45),
    top_p=st.floats(0.001, 1.0),
    min_p=st.floats(0.0, 1.0),
    penalty=st.floats(0.1, 5.0),
)
def test_filters_match_hf_property(seed, batch, vocab, ties, k, top_p, min_p, penalty):
    shape = (batch, vocab)
    logits = integer_logits(shape, seed) if ties else random_logits(shape, seed=seed)
    ids = random_ids(batch, vocab, 5, seed)
    assert_same(top_k_filter(logits, k), TopKLogitsWarper(k)(ids, logits))
    assert_same(top_p_filter(logits, top_p), TopPLogitsWarper(top_p)(ids, logits))
    assert_same(min_p_filter(logits, min_p), MinPLogitsWarper(min_p)(ids, logits))
    ref = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    assert_same(repetition_penalty(logits, ids, penalty), ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_process_matches_hf_list(dtype):
    logits = random_logits((4, 100), dtype)
    ids = random_ids(4, 100, 20, seed=2)
    s = SamplingSettings(temperature=0.7, top_k=30, top_p=0.9, min_p=0.05, repetition_penalty=1.3)
    hf = LogitsProcessorList(
        [
            RepetitionPenaltyLogitsProcessor(1.3),
            TemperatureLogitsWarper(0.7),
            TopKLogitsWarper(30),
            TopPLogitsWarper(0.9),
            MinPLogitsWarper(0.05),
        ]
    )
    assert_same(s.process(logits, ids), hf(ids, logits.clone()))


def test_process_skips_what_is_off():
    logits = random_logits((3, 20))
    ids = random_ids(3, 20, 4, seed=3)
    assert torch.equal(SamplingSettings().process(logits, ids), logits)
    s = SamplingSettings(temperature=0.0, top_k=1, top_p=0.1, repetition_penalty=2.0)
    assert_same(s.process(logits, ids), repetition_penalty(logits, ids, 2.0))  # greedy: no warpers
    assert torch.equal(s.process(logits, None), logits)  # no ids: no penalty


# ------------------------------------------------------------------- sampling
def test_sample_is_reproducible():
    logits = random_logits((8, 300), scale=1.0)
    draw = [sample(logits, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert draw[0].shape == (8, 1) and draw[0].dtype == torch.long
    assert torch.equal(draw[0], draw[1])
    s = SamplingSettings(temperature=0.9, top_k=50)
    a = s.next_ids(logits, None, torch.Generator().manual_seed(7))
    b = s.next_ids(logits, None, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_follows_softmax(dtype):
    logits = torch.tensor([[0.0, math.log(3.0), -math.inf]], dtype=dtype).expand(4000, 3)
    ids = sample(logits, torch.Generator().manual_seed(0)).flatten()
    counts = torch.bincount(ids, minlength=3)
    assert counts[2] == 0
    assert abs(counts[1].item() / 4000 - 0.75) < 0.03


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 4),
    vocab=st.integers(1, 60),
    temperature=st.floats(0.05, 3.0),
    k=st.none() | st.integers(1, 70),
    top_p=st.floats(0.01, 1.0),
    min_p=st.floats(0.0, 1.0),
    penalty=st.floats(0.5, 2.0),
    dtype=st.sampled_from(DTYPES),
)
def test_sampled_ids_are_never_filtered(
    seed, batch, vocab, temperature, k, top_p, min_p, penalty, dtype
):
    s = SamplingSettings(temperature, k, top_p, min_p, penalty)
    logits = random_logits((batch, vocab), dtype, seed)
    ids = random_ids(batch, vocab, 6, seed)
    processed = s.process(logits, ids)
    assert processed.dtype == dtype
    picked = s.next_ids(logits, ids, torch.Generator().manual_seed(seed))
    assert picked.shape == (batch, 1)
    assert torch.isfinite(processed.gather(1, picked)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_greedy_is_argmax(dtype):
    logits = random_logits((5, 64), dtype)
    s = SamplingSettings(temperature=0.0, top_k=3, top_p=0.5)
    assert s.greedy and not SamplingSettings().greedy
    assert torch.equal(s.next_ids(logits), logits.argmax(-1, keepdim=True))
    ids = logits.argmax(-1, keepdim=True)  # penalise the current favourite
    penalised = SamplingSettings(temperature=0.0, repetition_penalty=100.0)
    expected = repetition_penalty(logits, ids, 100.0).argmax(-1, keepdim=True)
    assert torch.equal(penalised.next_ids(logits, ids), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_kept(dtype):
    logits = random_logits((2, 10), dtype)
    ids = torch.tensor([[1, 2], [3, 3]])
    for out in [
        apply_temperature(logits, 0.5),
        top_k_filter(logits, 3),
        top_p_filter(logits, 0.5),
        min_p_filter(logits, 0.1),
        repetition_penalty(logits, ids, 1.5),
    ]:
        assert out.dtype == dtype and out.shape == logits.shape


# --------------------------------------------------------------------- errors
LOGITS = random_logits((2, 5))
IDS = torch.tensor([[0, 1], [2, 3]])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: apply_temperature(LOGITS, -0.5), "least likely"),
        (lambda: apply_temperature(LOGITS, 0.0), "greedy"),
        (lambda: apply_temperature(LOGITS, math.nan), "finite"),
        (lambda: apply_temperature(LOGITS, math.inf), "finite"),
        (lambda: top_k_filter(LOGITS, 0), "top_k must be an integer >= 1"),
        (lambda: top_p_filter(LOGITS, 0.0), r"top_p must be in \(0, 1\]"),
        (lambda: top_p_filter(LOGITS, 1.5), r"top_p must be in \(0, 1\]"),
        (lambda: min_p_filter(LOGITS, -0.1), r"min_p must be in \[0, 1\]"),
        (lambda: min_p_filter(LOGITS, 1.1), r"min_p must be in \[0, 1\]"),
        (lambda: repetition_penalty(LOGITS, IDS, 0.0), "penalty must be a finite float > 0"),
        (lambda: repetition_penalty(LOGITS, IDS, math.inf), "penalty must be a finite float > 0"),
        (lambda: repetition_penalty(LOGITS, IDS[:1], 1.2), r"input_ids must be \(B, T\)"),
        (lambda: repetition_penalty(LOGITS, IDS[0], 1.2), r"input_ids must be \(B, T\)"),
        (lambda: repetition_penalty(LOGITS, IDS + 4, 1.2), r"must lie in \[0, 5\)"),
        (lambda: repetition_penalty(LOGITS, IDS.float(), 1.2), "integer tensor"),
        (lambda: top_k_filter(LOGITS[0], 2), r"2-D \(B, V\)"),
        (lambda: top_p_filter(LOGITS[None], 0.5), r"2-D \(B, V\)"),
        (lambda: sample(LOGITS[0]), r"2-D \(B, V\)"),
        (lambda: apply_temperature(IDS, 1.0), "floating"),
        (lambda: SamplingSettings(temperature=-1.0), "least likely"),
        (lambda: SamplingSettings(temperature=math.nan), "finite"),
        (lambda: SamplingSettings(top_k=0), "top_k"),
        (lambda: SamplingSettings(top_p=0.0), "top_p"),
        (lambda: SamplingSettings(top_p=1.5), "top_p"),
        (lambda: SamplingSettings(min_p=-0.1), "min_p"),
        (lambda: SamplingSettings(repetition_penalty=0.0), "penalty"),
        (lambda: SamplingSettings().process(LOGITS[0], None), r"2-D \(B, V\)"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sample_unsampleable_row_raises():
    logits = LOGITS.clone()
    logits[1] = -math.inf
    with pytest.raises(ValueError, match=r"cannot sample rows \[1\]"):
        sample(logits)
    logits[1, 0] = math.nan
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        sample(logits)
    assert SamplingSettings(temperature=0.0).next_ids(LOGITS).shape == (2, 1)
