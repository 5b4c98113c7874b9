"""The speculative decoding page: its formulas, its sampling check and its sweep."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.pages.generating_text.speculative_decoding import (
    expected_tokens_per_round,
    forward_costs,
    gamma_sweep,
    one_token_check,
    predicted_speedup,
    toy_pair,
)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.75, 0.99])
@pytest.mark.parametrize("gamma", [1, 2, 5])
def test_expected_tokens_is_the_closed_form(alpha: float, gamma: int) -> None:
    closed = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    assert expected_tokens_per_round(alpha, gamma) == pytest.approx(closed)


def test_expected_tokens_at_the_extremes() -> None:
    assert expected_tokens_per_round(0.0, 4) == 1.0  # every first guess rejected
    assert expected_tokens_per_round(1.0, 4) == 5.0  # every guess kept, plus the free one


def test_predicted_speedup() -> None:
    # a free draft and a free check: the speedup is the tokens per round
    assert predicted_speedup(0.5, 3, 0.0, 1.0) == pytest.approx(1.875)
    # a useless draft (nothing kept) only adds its cost
    assert predicted_speedup(0.0, 2, 0.25, 1.2) == pytest.approx(1 / 1.7)


def test_the_toy_models_disagree_so_the_check_is_not_trivial() -> None:
    check = one_token_check(*toy_pair(vocab=8, seed=0), [1, 2, 3], runs=10)
    p, q = torch.tensor(check.target), torch.tensor(check.draft)
    assert 0.5 * (p - q).abs().sum() > 0.15  # total variation: q is far from p
    assert check.overlap == pytest.approx(float(torch.minimum(p, q).sum()))


def test_speculative_output_follows_the_target_not_the_draft() -> None:
    """What the page shows: the output shares match p. With 1,200 runs, a correct sampler
    puts every token within 4.5 standard errors of p except with probability below 1e-4
    (8 tokens, two-sided normal tail 6.8e-6 each); q is many standard errors away."""
    runs = 1200
    check = one_token_check(*toy_pair(vocab=8, seed=0), [1, 2, 3], runs=runs)
    p, q, seen = (torch.tensor(x) for x in (check.target, check.draft, check.observed))
    assert seen.sum().item() == pytest.approx(1.0)
    stderr = (p * (1 - p) / runs).sqrt().clamp(min=1 / runs)
    assert ((seen - p).abs() / stderr).max() < 4.5
    assert ((seen - q).abs() / stderr).max() > 6
    # the first guess is kept at the rate the rule predicts: sum of min(p, q)
    kept_stderr = math.sqrt(check.overlap * (1 - check.overlap) / runs)
    assert abs(check.first_guess_kept - check.overlap) < 4.5 * kept_stderr


def test_forward_costs_are_positive_for_every_width() -> None:
    target, _ = toy_pair(vocab=8, seed=0)
    costs = forward_costs(target, torch.tensor([[1, 2, 3, 4, 5, 6]]), [1, 3], repeats=1, steps=2)
    assert set(costs) == {1, 3} and all(c > 0 for c in costs.values())


def test_gamma_sweep_keeps_the_targets_output_and_counts_sensibly() -> None:
    target, draft = toy_pair(vocab=8, seed=1)
    prompts = [torch.tensor([[1, 2]]), torch.tensor([[5, 3, 7]])]
    rows = gamma_sweep(target, draft, prompts, 8, [1, 3], repeats=1)
    assert [r.gamma for r in rows] == [1, 3]
    for r in rows:
        assert r.same_output
        assert 0.0 <= r.acceptance <= 1.0
        assert 1.0 <= r.tokens_per_round <= r.gamma + 1
        assert r.speedup == r.target_seconds / r.seconds


def test_a_perfect_draft_is_always_kept() -> None:
    target, _ = toy_pair(vocab=8, seed=1)
    (row,) = gamma_sweep(target, target, [torch.tensor([[1, 2]])], 10, [4], repeats=1)
    assert row.acceptance == 1.0
    assert row.tokens_per_round == 5.0
