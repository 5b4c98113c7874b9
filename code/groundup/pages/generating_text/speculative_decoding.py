"""Speculative decoding, measured: the accept/reject rule's output distribution, the
cost of a forward pass against the number of tokens it reads, and acceptance and
speedup against gamma, for the "Speculative decoding" page.

Everything here calls `groundup.inference.speculative_generate`; nothing re-implements it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groundup.inference import Decoder, SamplingSettings, generate
from groundup.inference.speculative import speculative_generate
from groundup.model import GPT, GPTConfig
from groundup.pages.transformer.timing import best_time, one_thread


# --8<-- [start:expected_tokens]
def expected_tokens_per_round(alpha: float, gamma: int) -> float:
    """Tokens one round yields on average when each guess is kept with probability
    alpha, independently: 1 + alpha + ... + alpha**gamma (Leviathan et al., eq. 1)."""
    return sum(alpha**i for i in range(gamma + 1))


def predicted_speedup(alpha: float, gamma: int, draft_cost: float, verify_cost: float) -> float:
    """Target-only time over speculative time, costs in units of one target decode step:
    a round costs gamma draft steps plus one target pass over gamma + 1 tokens."""
    return expected_tokens_per_round(alpha, gamma) / (gamma * draft_cost + verify_cost)


# --8<-- [end:expected_tokens]


@dataclass(frozen=True)
class OneTokenCheck:
    """The first generated token of many speculative runs against the target's exact law."""

    target: list[float]  # p: the target's next-token distribution, (V,)
    draft: list[float]  # q: the draft's, (V,)
    observed: list[float]  # the share of runs that produced each token, (V,)
    runs: int
    first_guess_kept: float  # share of runs whose first guess was accepted
    overlap: float  # sum over tokens of min(p, q): the chance a guess is kept


def toy_pair(vocab: int = 8, seed: int = 0) -> tuple[GPT, GPT]:
    """A tiny random target and an even smaller random draft over `vocab` ids, with
    weights scaled up so that their distributions are far from uniform and differ."""
    models = []
    for layers, d_model, scale in ((2, 32, 2.0), (1, 16, 2.5)):
        torch.manual_seed(seed + layers)
        config = GPTConfig(
            vocab_size=vocab, block_size=16, n_layer=layers, n_head=2, d_model=d_model
        )
        model = GPT(config).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(scale)
        models.append(model)
    return models[0], models[1]


def one_token_check(target: GPT, draft: GPT, prompt: list[int], runs: int) -> OneTokenCheck:
    """Run speculative sampling (temperature 1, gamma 1) for one new token, `runs` times
    with seeds 0, 1, ..., and count which token came out each time."""
    sampling = SamplingSettings(temperature=1.0)
    with torch.no_grad():
        p = torch.softmax(target(torch.tensor([prompt]))[0][0, -1], dim=-1)
        q = torch.softmax(draft(torch.tensor([prompt]))[0][0, -1], dim=-1)
    counts = torch.zeros_like(p)
    kept = 0
    for seed in range(runs):
        generator = torch.Generator().manual_seed(seed)
        ids, stats = speculative_generate(target, draft, prompt, 1, 1, sampling, None, generator)
        counts[ids[0, -1]] += 1
        kept += stats.accepted
    return OneTokenCheck(
        target=p.tolist(),
        draft=q.tolist(),
        observed=(counts / runs).tolist(),
        runs=runs,
        first_guess_kept=kept / runs,
        overlap=float(torch.minimum(p, q).sum()),
    )


@torch.inference_mode()
def forward_costs(
    model: GPT, prompt: torch.Tensor, widths: list[int], repeats: int = 5, steps: int = 30
) -> dict[int, float]:
    """Seconds one cached forward pass takes when it reads k new tokens, for each k in
    widths, after a (1, T) prompt; best of `repeats` runs of `steps` passes, one thread."""
    decoder = Decoder(model, 1)
    decoder.feed(prompt)
    costs = {}
    with one_thread():
        for k in widths:
            new = prompt[:, :k]

            def passes(new: torch.Tensor = new, k: int = k) -> None:
                for _ in range(steps):
                    decoder.feed(new)
                    decoder.rewind(k)

            costs[k] = best_time(passes, repeats) / steps
    return costs


@dataclass(frozen=True)
class GammaRow:
    """Greedy speculative decoding at one gamma against the target alone."""

    gamma: int
    acceptance: float  # guesses kept / guesses made
    tokens_per_round: float
    seconds: float  # all prompts, speculative
    target_seconds: float  # all prompts, the target alone
    same_output: bool  # token for token equal to the target's greedy output

    @property
    def speedup(self) -> float:
        return self.target_seconds / self.seconds


def gamma_sweep(
    target: GPT,
    draft: GPT,
    prompts: list[torch.Tensor],
    new_tokens: int,
    gammas: list[int],
    repeats: int = 3,
) -> list[GammaRow]:
    """Greedy speculative decoding of every (1, T) prompt at each gamma, timed (best of
    `repeats`, one thread) against greedy decoding with the target alone."""
    with one_thread():
        expected = [generate(target, p, new_tokens) for p in prompts]
        alone = best_time(lambda: [generate(target, p, new_tokens) for p in prompts], repeats)
        rows = []
        for gamma in gammas:

            def speculative(gamma: int = gamma) -> list:
                return [speculative_generate(target, draft, p, new_tokens, gamma) for p in prompts]

            results = speculative()
            seconds = best_time(speculative, repeats)
            proposed = sum(s.proposed for _, s in results)
            accepted = sum(s.accepted for _, s in results)
            rounds = sum(s.rounds for _, s in results)
            made = sum(ids.size(1) - p.size(1) for (ids, _), p in zip(results, prompts))
            rows.append(
                GammaRow(
                    gamma=gamma,
                    acceptance=accepted / proposed,
                    tokens_per_round=made / rounds,
                    seconds=seconds,
                    target_seconds=alone,
                    same_output=all(torch.equal(ids, e) for (ids, _), e in zip(results, expected)),
                )
            )
    return rows
