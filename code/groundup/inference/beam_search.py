"""Beam search: keep the num_beams most likely continuations, not just the best token.

The rules are `transformers`' (length_penalty, early_stopping=False), so that the
same weights give the same tokens: each step scores every beam's every next token
by its total log-probability, looks at the best 2 x num_beams, sets aside those
that end (end-of-text, or the last step) as finished hypotheses scored by
log-prob / length^length_penalty, and continues with the best num_beams that do
not. It stops when no running beam can still beat the worst finished one.
"""

from __future__ import annotations

import torch

from groundup.inference.decoder import Decoder
from groundup.inference.processors import SamplingSettings
from groundup.model.gpt import GPT

NEVER = -1.0e9  # the score of a slot that must not be chosen


@torch.no_grad()
def beam_search(
    model: GPT,
    ids: torch.Tensor,
    valid: torch.Tensor,
    max_new_tokens: int,
    num_beams: int,
    settings: SamplingSettings,
    length_penalty: float = 1.0,
    eos_id: int | None = None,
    pad_id: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """The best beam of each prompt: ids (B, T) (valid: (B, T) bool) -> (B, T + n), n <= max_new_tokens.

    Finished beams shorter than the longest returned one end in pad_id (default eos_id).
    """
    if num_beams < 1:
        raise ValueError(f"num_beams must be >= 1, got {num_beams}")
    if max_new_tokens < 1:
        return ids
    B, T = ids.shape
    nb, K = num_beams, 2 * num_beams  # beams kept, candidates looked at per step
    pad = (eos_id if pad_id is None else pad_id) or 0
    decoder = Decoder(model, B * nb, use_cache, min(model.config.block_size, T + max_new_tokens))
    prompts = ids.repeat_interleave(nb, dim=0)  # (B * nb, T): every beam starts as its prompt
    logits = decoder.feed(prompts, valid.repeat_interleave(nb, dim=0))[:, -1]
    V = logits.size(-1)
    running = ids.new_zeros(B, nb, 0)  # the running beams' new tokens
    running_score = torch.full((B, nb), NEVER, device=ids.device)
    running_score[:, 0] = 0.0  # all beams start equal: let only the first one expand
    done = ids.new_full((B, nb, max_new_tokens), pad)  # finished hypotheses, padded
    done_len = ids.new_zeros(B, nb)
    done_score = torch.full((B, nb), NEVER, device=ids.device)
    done_full = torch.zeros(B, nb, dtype=torch.bool, device=ids.device)  # slot holds one
    open_ = torch.ones(B, 1, dtype=torch.bool, device=ids.device)  # may still improve
    # --8<-- [start:beam_step]
    for step in range(max_new_tokens):
        sequences = torch.cat([prompts, running.view(B * nb, step)], dim=1)  # for the penalty
        logprobs = settings.process(torch.log_softmax(logits.float(), dim=-1), sequences)
        total = (logprobs.view(B, nb, V) + running_score[..., None]).view(B, nb * V)
        score, index = total.topk(K)  # (B, K): best candidates over all beams
        beam, token = index // V, index % V
        cand = torch.cat(
            [running.gather(1, beam[..., None].expand(-1, -1, step)), token[..., None]], 2
        )
        ends = token == eos_id if eos_id is not None else torch.zeros_like(token, dtype=torch.bool)
        ends = ends | (step + 1 == max_new_tokens)
        # the best num_beams candidates that did not end continue
        keep = (score + ends.float() * NEVER).topk(nb).indices  # (B, nb)
        running, running_score = (
            cand.gather(1, keep[..., None].expand(-1, -1, step + 1)),
            (score + ends.float() * NEVER).gather(1, keep),
        )
        # --8<-- [end:beam_step]
        # --8<-- [start:beam_finished]
        # the best num_beams candidates that ended are finished hypotheses
        final = score / (step + 1) ** length_penalty
        eligible = ends & (torch.arange(K, device=ids.device) < nb) & open_
        final = final.masked_fill(~eligible, NEVER)
        padded = torch.nn.functional.pad(cand, (0, max_new_tokens - step - 1), value=pad)
        merged_score = torch.cat([done_score, final], 1)
        best = merged_score.topk(nb).indices  # (B, nb)
        done = torch.cat([done, padded], 1).gather(
            1, best[..., None].expand(-1, -1, max_new_tokens)
        )
        done_len = torch.cat(
            [done_len, torch.full_like(final, step + 1, dtype=torch.long)], 1
        ).gather(1, best)
        done_full = torch.cat([done_full, eligible], 1).gather(1, best)
        done_score = merged_score.gather(1, best)
        # --8<-- [end:beam_finished]
        # --8<-- [start:beam_stop]
        if bool(ends.all()):
            break
        # can a running beam still beat the worst finished one?
        best_possible = running_score[:, :1] / (step + 1) ** length_penalty
        worst = torch.where(done_full, done_score.min(dim=1, keepdim=True).values, NEVER)
        open_ &= (best_possible > worst).any(dim=1, keepdim=True)
        if not bool(open_.any()):
            break
        rows = (torch.arange(B, device=ids.device)[:, None] * nb + beam.gather(1, keep)).view(-1)
        decoder.reorder(rows)
        logits = decoder.feed(running[:, :, -1].reshape(-1, 1))[:, -1]
        # --8<-- [end:beam_stop]
    n = int(done_len[:, 0].max())
    return torch.cat([ids, done[:, 0, :n]], dim=1)
