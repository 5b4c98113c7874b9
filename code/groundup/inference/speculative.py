"""Speculative decoding (Leviathan et al. 2023; Chen et al. 2023): a small draft model
guesses gamma tokens, the target checks them all in one forward pass.

Each guess x, drawn from the draft's distribution q, is kept with probability
min(1, p(x) / q(x)), p being the target's; at the first rejection a replacement is
drawn from max(0, p - q), renormalised; if all gamma are kept, one more token comes
from the target's next distribution for free. Every token produced this way is
distributed exactly as if the target had sampled it alone. Greedy decoding keeps a
guess when it is the target's most likely token, so the output is the target's
greedy output. One prompt at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groundup.inference.decoder import Decoder
from groundup.inference.generate import Prompt, prompt_batch
from groundup.inference.processors import SamplingSettings
from groundup.model.gpt import GPT


@dataclass
class SpeculativeStats:
    """What happened: rounds (target forward passes after the prompt), guesses made and kept."""

    rounds: int = 0
    proposed: int = 0
    accepted: int = 0

    @property
    def acceptance_rate(self) -> float:
        """Fraction of the draft's guesses the target kept."""
        return self.accepted / self.proposed if self.proposed else 0.0


# --8<-- [start:speculative]
@torch.no_grad()
def speculative_generate(
    target: GPT,
    draft: GPT,
    prompt_ids: Prompt,
    max_new_tokens: int,
    gamma: int = 4,
    settings: SamplingSettings | None = None,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, SpeculativeStats]:
    """The prompt (1, T) followed by up to max_new_tokens ids, and the statistics.

    settings (default greedy) shape both models' distributions the same way before
    the accept/reject rule; stopping at eos_id includes it.
    """
    settings = SamplingSettings(temperature=0.0) if settings is None else settings
    ids, valid = prompt_batch(target, prompt_ids)
    _check_pair(target, draft, ids, valid, max_new_tokens, gamma)
    stats = SpeculativeStats()
    out: list[int] = []
    # each model has read all but the last committed token; these are fed next round
    target_dec, draft_dec = Decoder(target, 1), Decoder(draft, 1)
    if ids.size(1) > 1:
        target_dec.feed(ids[:, :-1])
        draft_dec.feed(ids[:, :-1])
    target_next, draft_next = ids[0, -1:].tolist(), ids[0, -1:].tolist()
    while len(out) < max_new_tokens and (eos_id is None or eos_id not in out):
        g = min(gamma, max_new_tokens - len(out))
        # 1. the draft guesses g tokens, one forward each
        guesses: list[int] = []
        q = []
        logits = draft_dec.feed(torch.tensor([draft_next], device=ids.device))[:, -1]
        for i in range(g):
            q.append(_probs(settings, logits, ids, [out + guesses])[0])
            guesses.append(_pick(settings, q[-1], generator))
            if i + 1 < g:
                logits = draft_dec.feed(torch.tensor([[guesses[-1]]], device=ids.device))[:, -1]
        # 2. the target scores the pending token and every guess in one pass: g + 1 distributions
        fed = torch.tensor([target_next + guesses], device=ids.device)
        scores = target_dec.feed(fed)[0, -(g + 1) :]  # (g + 1, V)
        p = _probs(settings, scores, ids, [out + guesses[:i] for i in range(g + 1)])
        # 3. keep guesses while the rule accepts them
        n = 0
        while n < g and _accept(settings, p[n], q[n], guesses[n], generator):
            n += 1
        if n < g:  # rejected: a replacement from the residual, then forget the rest
            extra = _pick(settings, _residual(settings, p[n], q[n]), generator)
            target_dec.rewind(g - n)
            draft_dec.rewind(g - 1 - n)
            target_next, draft_next = [extra], [extra]
        else:  # all kept: the target's next token comes free
            extra = _pick(settings, p[g], generator)
            target_next, draft_next = [extra], [guesses[-1], extra]
        stats.rounds += 1
        stats.proposed += g
        stats.accepted += n
        out += guesses[:n] + [extra]
    out = out[:max_new_tokens]
    if eos_id is not None and eos_id in out:
        out = out[: out.index(eos_id) + 1]
    new = torch.tensor([out], dtype=torch.long, device=ids.device).view(1, -1)
    return torch.cat([ids, new], dim=1), stats


# --8<-- [end:speculative]


def _probs(
    settings: SamplingSettings, logits: torch.Tensor, prompt: torch.Tensor, new: list[list[int]]
) -> torch.Tensor:
    """The distributions a model samples from, (n, V) logits -> (n, V) float32
    probabilities; row i follows the prompt (1, T) and then new[i]."""
    logits = logits.float()
    if settings.repetition_penalty == 1.0:  # the earlier ids do not matter: all rows at once
        processed = settings.process(logits)
    else:
        rows = [torch.cat([prompt[0], prompt.new_tensor(n)])[None] for n in new]
        processed = torch.cat([settings.process(logits[i : i + 1], r) for i, r in enumerate(rows)])
    if settings.greedy:  # all mass on the most likely id
        return torch.nn.functional.one_hot(processed.argmax(-1), logits.size(-1)).float()
    return torch.softmax(processed, dim=-1)


# --8<-- [start:rules]
def _pick(
    settings: SamplingSettings, probs: torch.Tensor, generator: torch.Generator | None
) -> int:
    if settings.greedy:
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))


def _accept(
    settings: SamplingSettings,
    p: torch.Tensor,
    q: torch.Tensor,
    x: int,
    generator: torch.Generator | None,
) -> bool:
    """Keep guess x with probability min(1, p(x) / q(x))."""
    if settings.greedy:
        return bool(p[x] == 1.0)
    u = torch.rand((), generator=generator, device=p.device)
    return bool(u * q[x] < p[x])  # u < p/q, without dividing by a tiny q


def _residual(settings: SamplingSettings, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """max(0, p - q), renormalised: the part of p the draft under-proposes."""
    if settings.greedy:
        return p
    r = (p - q).clamp(min=0.0)
    total = r.sum()
    return r / total if total > 0 else p


# --8<-- [end:rules]


def _check_pair(
    target: GPT,
    draft: GPT,
    ids: torch.Tensor,
    valid: torch.Tensor,
    max_new_tokens: int,
    gamma: int,
) -> None:
    if target.config.vocab_size != draft.config.vocab_size:
        raise ValueError(
            f"the draft's vocabulary ({draft.config.vocab_size} ids) differs from the "
            f"target's ({target.config.vocab_size}): its guesses would mean other tokens"
        )
    if ids.size(0) != 1 or not bool(valid.all()):
        raise ValueError("speculative decoding here takes one unpadded prompt at a time")
    if not isinstance(gamma, int) or gamma < 1:
        raise ValueError(f"gamma (guesses per round) must be an int >= 1, got {gamma!r}")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    context = min(target.config.block_size, draft.config.block_size)
    if ids.size(1) + max_new_tokens + gamma > context:
        raise ValueError(
            f"prompt ({ids.size(1)}) + max_new_tokens ({max_new_tokens}) + gamma ({gamma}) "
            f"must fit the smaller context, {context} tokens: the cache does not slide here"
        )
