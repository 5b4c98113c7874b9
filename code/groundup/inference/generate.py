"""`generate` and `stream`: text from a `GPT`, one token at a time.

`stream` yields each step's new ids as soon as they are chosen; `generate` collects
them (or runs beam search) and returns the prompt with the new ids appended, as
`transformers`' `generate` does. Prompts of different lengths are left-padded and
masked, so every row's last prompt token is the last column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from groundup.inference.beam_search import beam_search
from groundup.inference.decoder import Decoder
from groundup.inference.processors import SamplingSettings
from groundup.model.gpt import GPT

Prompt = torch.Tensor | Sequence[int] | Sequence[Sequence[int]]


# --8<-- [start:stream]
def stream(
    model: GPT,
    prompt_ids: Prompt,
    max_new_tokens: int,
    settings: SamplingSettings | None = None,
    *,
    attention_mask: torch.Tensor | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> Iterator[torch.Tensor]:
    """Yield max_new_tokens steps of new ids, (B,) each, for a (B, T) prompt.

    settings: how to pick each id (default greedy). A row that has produced eos_id
    yields pad_id (default eos_id) from then on; the stream ends early once every
    row has. `generator` makes sampling reproducible.
    """
    settings = SamplingSettings(temperature=0.0) if settings is None else settings
    ids, valid = prompt_batch(model, prompt_ids, attention_mask, pad_id)
    _check_lengths(model, max_new_tokens, eos_id, pad_id)
    pad = (eos_id if pad_id is None else pad_id) or 0
    capacity = min(model.config.block_size, ids.size(1) + max_new_tokens)
    decoder = Decoder(model, ids.size(0), use_cache, capacity)
    logits = decoder.feed(ids, valid)[:, -1]  # prefill: the whole prompt in one pass
    sequence = ids  # the ids so far, kept only for the repetition penalty
    finished = torch.zeros(ids.size(0), dtype=torch.bool, device=ids.device)
    for step in range(max_new_tokens):
        next_ids = settings.next_ids(logits.float(), sequence, generator)[:, 0]  # (B,)
        if eos_id is not None:  # a finished row only pads
            next_ids = next_ids.masked_fill(finished, pad)
        yield next_ids
        if eos_id is not None:
            finished |= next_ids == eos_id
            if bool(finished.all()):
                return
        if settings.repetition_penalty != 1.0:
            sequence = torch.cat([sequence, next_ids[:, None]], dim=1)
        if step + 1 < max_new_tokens:
            logits = decoder.feed(next_ids[:, None])[:, -1]  # decode: one token per row


# --8<-- [end:stream]


def generate(
    model: GPT,
    prompt_ids: Prompt,
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    min_p: float = 0.0,
    repetition_penalty: float = 1.0,
    num_beams: int = 1,
    length_penalty: float = 1.0,
    attention_mask: torch.Tensor | None = None,
    eos_id: int | None = None,
    pad_id: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """The prompt (B, T), left-padded if its rows differ in length, followed by up to
    max_new_tokens new ids: (B, T + n).

    temperature 0 (the default) is greedy; above 0 ids are sampled after the
    repetition penalty, temperature, top-k, top-p and min-p, in that order (as
    `transformers` applies them). num_beams > 1 is beam search (greedy only).
    seed makes sampling reproducible.
    """
    settings = SamplingSettings(temperature, top_k, top_p, min_p, repetition_penalty)
    ids, valid = prompt_batch(model, prompt_ids, attention_mask, pad_id)
    if num_beams != 1:
        if not settings.greedy:
            raise ValueError("beam search here is deterministic: use temperature=0 with num_beams")
        return beam_search(
            model, ids, valid, max_new_tokens, num_beams, settings, length_penalty,
            eos_id, pad_id, use_cache,
        )  # fmt: skip
    generator = None if seed is None else torch.Generator(ids.device).manual_seed(seed)
    steps = stream(
        model, ids, max_new_tokens, settings, attention_mask=valid, eos_id=eos_id,
        pad_id=pad_id, generator=generator, use_cache=use_cache,
    )  # fmt: skip
    new = [step[:, None] for step in steps]
    return torch.cat([ids, *new], dim=1)


def prompt_batch(
    model: GPT,
    prompt_ids: Prompt,
    attention_mask: torch.Tensor | None = None,
    pad_id: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt ids as a left-padded batch: ids (B, T) int64 and valid (B, T) bool.

    Accepts one prompt (a list of ids or a (T,) tensor), several of any lengths (a
    list of lists: shorter ones are left-padded with pad_id, default 0), or a (B, T)
    tensor with an optional attention_mask (1 = real token, 0 = padding).
    """
    device = model.tok_emb.weight.device
    if isinstance(prompt_ids, torch.Tensor):
        ids = prompt_ids[None] if prompt_ids.dim() == 1 else prompt_ids
        if ids.dim() != 2 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise ValueError(f"prompt_ids must be integer ids, (T,) or (B, T); got {ids.shape}")
        ids = ids.to(device=device, dtype=torch.long)
        if attention_mask is None:
            valid = torch.ones_like(ids, dtype=torch.bool)
        else:
            if attention_mask.shape != ids.shape:
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)}, "
                    f"prompt_ids {tuple(ids.shape)}: they must match"
                )
            valid = attention_mask.to(device=device).bool()
    else:
        # --8<-- [start:left_pad]
        flat = _is_flat(prompt_ids)
        rows = [list(prompt_ids)] if flat else [list(r) for r in prompt_ids]  # type: ignore[arg-type]
        width = max((len(r) for r in rows), default=0)
        pad = 0 if pad_id is None else pad_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], dtype=torch.long)
        valid = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
        ids, valid = ids.to(device).view(len(rows), width), valid.to(device).view(len(rows), width)
        # --8<-- [end:left_pad]
    _check_prompt(model, ids, valid)
    return ids, valid


def _is_flat(prompt: Sequence[int] | Sequence[Sequence[int]]) -> bool:
    return len(prompt) == 0 or not isinstance(prompt[0], Sequence | torch.Tensor)


def _check_prompt(model: GPT, ids: torch.Tensor, valid: torch.Tensor) -> None:
    B, T = ids.shape
    if B == 0 or T == 0 or not bool(valid.any(dim=1).all()):
        raise ValueError("empty prompt: give at least one token id per row to continue from")
    if bool((valid[:, 1:] < valid[:, :-1]).any()):
        raise ValueError("padding must be on the left: a row's mask must be 0 ... 0 1 ... 1")
    if T > model.config.block_size:
        raise ValueError(
            f"the prompt has {T} tokens but the model's context is {model.config.block_size}; "
            f"keep its last {model.config.block_size}"
        )
    real = ids[valid]
    lo, hi = int(real.min()), int(real.max())
    if lo < 0 or hi >= model.config.vocab_size:
        raise ValueError(
            f"token id {lo if lo < 0 else hi} is out of range for "
            f"vocab_size={model.config.vocab_size}"
        )


def _check_lengths(model: GPT, max_new_tokens: int, eos_id: int | None, pad_id: int | None) -> None:
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    for name, value in (("eos_id", eos_id), ("pad_id", pad_id)):
        if value is not None and not 0 <= value < model.config.vocab_size:
            raise ValueError(
                f"{name}={value} is out of range for vocab_size={model.config.vocab_size}"
            )
