"""Speculative decoding is exact: greedy output equals the target's greedy output, and
sampled output follows the target's own distribution (a chi-square test against the
exact distribution, enumerated on a model small enough to list every sequence)."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from scipy.stats import chisquare

from groundup.inference import SamplingSettings, generate
from groundup.inference.speculative import speculative_generate
from groundup.model import GPT, GPTConfig

# the chi-square test's false-alarm rate: a correct sampler fails it with this probability
ALPHA = 1e-3


def model(seed: int, vocab: int = 64, layers: int = 2, scale: float = 1.0) -> GPT:
    torch.manual_seed(seed)
    m = GPT(GPTConfig(vocab_size=vocab, block_size=48, n_layer=layers, n_head=2, d_model=32))
    with torch.no_grad():  # larger weights: distributions far from uniform
        for p in m.parameters():
            p.mul_(scale)
    return m.eval()


@pytest.mark.parametrize("gamma", [1, 2, 4, 7])
def test_greedy_output_is_the_targets_greedy_output(gamma: int) -> None:
    target, draft = model(0, scale=3.0), model(1, layers=1, scale=3.0)
    for prompt in ([1, 2, 3], [9], [40, 41, 42, 43, 44]):
        expected = generate(target, prompt, 30)
        got, stats = speculative_generate(target, draft, prompt, 30, gamma=gamma)
        assert torch.equal(got, expected)
        assert stats.proposed >= stats.accepted >= 0
        assert stats.accepted + stats.rounds >= 30  # each round: its kept guesses and one more


def test_greedy_with_a_repetition_penalty_is_still_the_targets_output() -> None:
    target, draft = model(0, scale=3.0), model(1, layers=1, scale=3.0)
    settings = SamplingSettings(temperature=0.0, repetition_penalty=1.3)
    expected = generate(target, [1, 2, 3], 25, repetition_penalty=1.3)
    got, _ = speculative_generate(target, draft, [1, 2, 3], 25, gamma=3, settings=settings)
    assert torch.equal(got, expected)


def test_a_perfect_draft_is_always_accepted() -> None:
    target = model(0, scale=3.0)
    _, stats = speculative_generate(target, target, [1, 2], 20, gamma=4)
    assert stats.acceptance_rate == 1.0
    assert stats.rounds == 4  # each round: 4 kept guesses and one free token


def test_each_round_makes_one_target_pass_and_counts_add_up() -> None:
    target, draft = model(0, scale=3.0), model(1, layers=1, scale=3.0)
    out, stats = speculative_generate(target, draft, [3, 4], 25, gamma=3)
    # every round yields its kept guesses plus one token (the last round may be cut)
    assert stats.accepted + stats.rounds >= 25 > stats.accepted + stats.rounds - 4
    assert 0.0 <= stats.acceptance_rate <= 1.0
    assert out.shape == (1, 27)


def exact_distribution(target: GPT, prompt: int, n: int, vocab: int) -> torch.Tensor:
    """P(x1 .. xn | prompt) under the target, for all vocab^n sequences, in order."""
    seqs = torch.tensor(list(itertools.product(range(vocab), repeat=n)))
    ids = torch.cat([torch.full((len(seqs), 1), prompt), seqs], dim=1)
    with torch.no_grad():
        logp = torch.log_softmax(target(ids)[0][:, :-1].double(), dim=-1)
    return logp.gather(2, seqs[..., None])[..., 0].sum(dim=1).exp()


def chi_square_pvalue(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson's test of counts against probs, with cells expecting < 5 merged into one."""
    n = counts.sum()
    expected = probs / probs.sum() * n
    small = expected < 5
    obs = torch.cat([counts[~small], counts[small].sum()[None]])
    exp = torch.cat([expected[~small], expected[small].sum()[None]])
    return float(chisquare(obs.numpy(), exp.numpy()).pvalue)


def sampled_counts(target: GPT, draft: GPT, runs: int, vocab: int, n: int) -> torch.Tensor:
    settings = SamplingSettings(temperature=1.0)
    counts = torch.zeros(vocab**n, dtype=torch.float64)
    place = vocab ** torch.arange(n - 1, -1, -1)
    for seed in range(runs):
        g = torch.Generator().manual_seed(seed)
        out, _ = speculative_generate(target, draft, [0], n, 2, settings, generator=g)
        counts[int((out[0, 1:] * place).sum())] += 1
    return counts


def test_sampled_output_follows_the_targets_exact_distribution() -> None:
    vocab, n, runs = 4, 3, 2000  # 64 possible outputs of 3 tokens
    target = model(1, vocab=vocab, layers=1, scale=4.0)
    draft = copy.deepcopy(target)  # a close but different draft: it keeps about 3 in 4 guesses
    torch.manual_seed(3)
    with torch.no_grad():
        for p in draft.parameters():
            p.add_(0.5 * p.std() * torch.randn_like(p))
    exact = exact_distribution(target, 0, n, vocab)
    counts = sampled_counts(target, draft, runs, vocab, n)
    assert chi_square_pvalue(counts, exact) > ALPHA
    # the test has power: the draft's own distribution, which differs, is rejected
    assert chi_square_pvalue(counts, exact_distribution(draft, 0, n, vocab)) < ALPHA


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(draft=model(5, vocab=63)), "the draft's vocabulary \\(63 ids\\) differs"),
        (dict(gamma=0), "gamma"),
        (dict(max_new_tokens=45), "must fit the smaller context, 48 tokens"),
        (dict(prompt_ids=[[1, 2], [3]]), "one unpadded prompt at a time"),
        (dict(prompt_ids=[]), "empty prompt"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "target": model(0), "draft": model(1), "prompt_ids": [1, 2], "max_new_tokens": 5,
        **kwargs,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        speculative_generate(**args)  # type: ignore[arg-type]


def test_it_stops_at_eos() -> None:
    target, draft = model(0, scale=3.0), model(1, layers=1, scale=3.0)
    free = generate(target, [1, 2, 3], 20)
    eos = int(free[0, 8])
    got, _ = speculative_generate(target, draft, [1, 2, 3], 20, gamma=3, eos_id=eos)
    first = free[0, 3:].tolist().index(eos)
    assert got[0, 3:].tolist() == free[0, 3 : 4 + first].tolist()
