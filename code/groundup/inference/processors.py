"""Logits processors for decoding: temperature, top-k, top-p, min-p, repetition penalty,
and the sampling step that turns (B, V) logits into (B, 1) next ids."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def _check_logits(logits: Tensor) -> None:
    """Raise ValueError unless logits is a floating (B, V) tensor."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D (B, V), got shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be a floating tensor, got dtype {logits.dtype}")


def _check_temperature(temperature: float, allow_zero: bool) -> None:
    """Raise ValueError unless temperature is finite and > 0 (or == 0 when allow_zero)."""
    if math.isfinite(temperature) and (temperature > 0 or (allow_zero and temperature == 0)):
        return
    lowest = ">= 0 (0 means greedy)" if allow_zero else "> 0"
    raise ValueError(
        f"temperature must be a finite float {lowest}, got {temperature}: "
        "temperature 0 means greedy decoding, which the caller handles with argmax, "
        "and a negative temperature would favour the least likely ids"
    )


def _check_top_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"top_k must be an integer >= 1 (None turns it off), got {k}")


def _check_top_p(top_p: float) -> None:
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1.0 keeps every id), got {top_p}")


def _check_min_p(min_p: float) -> None:
    if not 0 <= min_p <= 1:
        raise ValueError(f"min_p must be in [0, 1] (0.0 keeps every id), got {min_p}")


def _check_penalty(penalty: float) -> None:
    if not (math.isfinite(penalty) and penalty > 0):
        raise ValueError(
            f"repetition penalty must be a finite float > 0 (1.0 means no penalty), got {penalty}"
        )


# --8<-- [start:apply_temperature]
def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """(B, V) -> (B, V): logits / temperature. < 1 sharpens the distribution, > 1 flattens it."""
    _check_logits(logits)
    _check_temperature(temperature, allow_zero=False)
    return logits / temperature


# --8<-- [end:apply_temperature]


# --8<-- [start:top_k_filter]
def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """(B, V) -> (B, V): keep the k highest logits per row, set the rest to -inf.

    Ids tied with the k-th highest are kept too, so a row may keep more than k.
    k >= V keeps everything.
    """
    _check_logits(logits)
    _check_top_k(k)
    kth = torch.topk(logits, min(k, logits.size(-1))).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, -math.inf)


# --8<-- [end:top_k_filter]


# --8<-- [start:top_p_filter]
def top_p_filter(logits: Tensor, top_p: float) -> Tensor:
    """(B, V) -> (B, V): nucleus filter, the rest set to -inf.

    Keeps the smallest set of most likely ids whose probabilities sum to at least top_p,
    and always the most likely one. Sorting ascending, an id goes when the mass at and
    below it is <= 1 - top_p.
    """
    _check_logits(logits)
    _check_top_p(top_p)
    sorted_logits, order = torch.sort(logits, descending=False)  # (B, V) each
    mass_below = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = mass_below <= 1 - top_p
    remove_sorted[:, -1] = False  # the most likely id always stays
    remove = remove_sorted.scatter(1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, -math.inf)


# --8<-- [end:top_p_filter]


# --8<-- [start:min_p_filter]
def min_p_filter(logits: Tensor, min_p: float) -> Tensor:
    """(B, V) -> (B, V): set to -inf the ids whose probability is < min_p * the row's top one."""
    _check_logits(logits)
    _check_min_p(min_p)
    probs = logits.softmax(dim=-1)  # (B, V)
    remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
    remove.scatter_(1, probs.argmax(dim=-1, keepdim=True), False)  # the most likely id stays
    return logits.masked_fill(remove, -math.inf)


# --8<-- [end:min_p_filter]


# --8<-- [start:repetition_penalty]
def repetition_penalty(logits: Tensor, input_ids: Tensor, penalty: float) -> Tensor:
    """(B, V) logits, (B, T) ids -> new (B, V) logits.

    Every id that occurs in its row of input_ids (once or many times: the penalty applies
    once) has a negative logit multiplied by penalty and a positive one divided by it,
    so penalty > 1 makes repeats less likely. The input is left unchanged.
    """
    _check_logits(logits)
    _check_penalty(penalty)
    if input_ids.dim() != 2 or input_ids.size(0) != logits.size(0):
        raise ValueError(
            f"input_ids must be (B, T) with B = {logits.size(0)} as in logits, "
            f"got shape {tuple(input_ids.shape)}"
        )
    if input_ids.is_floating_point() or input_ids.is_complex():
        raise ValueError(f"input_ids must be an integer tensor, got dtype {input_ids.dtype}")
    vocab_size = logits.size(-1)
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(f"input_ids must lie in [0, {vocab_size}) for V = {vocab_size} logits")
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, input_ids.long(), True)
    penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, penalised, logits)


# --8<-- [end:repetition_penalty]


# --8<-- [start:sample]
def sample(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """(B, V) logits -> (B, 1) int64 ids drawn from softmax(logits), one per row.

    Ids at -inf are never drawn. A row with no finite logit, or with a NaN or +inf one,
    has no distribution to sample from: ValueError names it.
    """
    _check_logits(logits)
    bad = torch.isneginf(logits).all(dim=-1) | (torch.isnan(logits) | torch.isposinf(logits)).any(
        dim=-1
    )
    if bad.any():
        rows = bad.nonzero().flatten().tolist()
        raise ValueError(
            f"cannot sample rows {rows}: each needs at least one finite logit, no NaN and no +inf"
        )
    probs = logits.float().softmax(dim=-1)  # multinomial wants float32/64
    return torch.multinomial(probs, num_samples=1, generator=generator)


# --8<-- [end:sample]


# --8<-- [start:settings]
@dataclass(frozen=True)
class SamplingSettings:
    """How to pick the next id: greedy (temperature 0) or sampled after the filters."""

    temperature: float = 1.0  # 0.0 = greedy
    top_k: int | None = None  # None = off
    top_p: float = 1.0  # 1.0 = off
    min_p: float = 0.0  # 0.0 = off
    repetition_penalty: float = 1.0  # 1.0 = off
    # --8<-- [end:settings]

    def __post_init__(self) -> None:
        _check_temperature(self.temperature, allow_zero=True)
        if self.top_k is not None:
            _check_top_k(self.top_k)
        _check_top_p(self.top_p)
        _check_min_p(self.min_p)
        _check_penalty(self.repetition_penalty)

    @property
    def greedy(self) -> bool:
        """True when temperature is 0: take the argmax, no filters, no sampling."""
        return self.temperature == 0

    # --8<-- [start:process]
    def process(self, logits: Tensor, input_ids: Tensor | None = None) -> Tensor:
        """(B, V) logits, optional (B, T) ids -> (B, V) processed logits.

        Transformers' order: repetition penalty (if != 1 and ids are given), then, unless
        greedy, temperature, top-k, top-p, min-p, each skipped when it is off.
        """
        _check_logits(logits)
        if self.repetition_penalty != 1.0 and input_ids is not None:
            logits = repetition_penalty(logits, input_ids, self.repetition_penalty)
        if self.greedy:
            return logits
        if self.temperature != 1.0:
            logits = apply_temperature(logits, self.temperature)
        if self.top_k is not None:
            logits = top_k_filter(logits, self.top_k)
        if self.top_p != 1.0:
            logits = top_p_filter(logits, self.top_p)
        if self.min_p != 0.0:
            logits = min_p_filter(logits, self.min_p)
        return logits

    # --8<-- [end:process]
    # --8<-- [start:next_ids]
    def next_ids(
        self,
        logits: Tensor,
        input_ids: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """(B, V) logits, optional (B, T) ids -> (B, 1) next ids: argmax if greedy, else sampled."""
        logits = self.process(logits, input_ids)
        if self.greedy:
            return logits.argmax(dim=-1, keepdim=True)
        return sample(logits, generator)
        # --8<-- [end:next_ids]
