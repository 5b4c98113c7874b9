"""`Decoder`: feeds tokens to a `GPT` and returns the logits after each, cached or not.

Every way of generating (greedy, sampling, beam search, speculative decoding) is a
loop of "feed the tokens chosen so far, read the next distribution". This is that
loop's model side: the first feed is the prompt (the prefill, one parallel pass);
each later feed is the new token or tokens (the decode steps). With a `KVCache` a
decode step runs the model on the new tokens only; without one it reruns the whole
window, which gives the same logits the slow way.

When the window is full (block_size tokens) and more arrive, it slides: the oldest
tokens are dropped so that the last `block_size // 2` remain, and those are read
again in one pass at positions 0, 1, ... (a model with learned positions has no
rows past block_size, so the cached keys cannot simply be kept). Cached and
uncached decoding slide at the same moments, so they stay token for token equal.
"""

from __future__ import annotations

import torch

from groundup.inference.kv_cache import KVCache
from groundup.model.gpt import GPT


def positions_of(valid: torch.Tensor) -> torch.Tensor:
    """Each token's position counting only real tokens, (B, T) -> (B, T); padding gets 0.

    A left-padded row [pad, pad, a, b] has positions [0, 0, 0, 1], as if unpadded.
    """
    return (valid.long().cumsum(dim=1) - 1).clamp(min=0)


class Decoder:
    """The tokens a model conditions on (its window) and the way to extend them.

    ids, valid: (B, L), the window's tokens and which are real (not padding).
    """

    def __init__(
        self, model: GPT, batch_size: int, use_cache: bool = True, capacity: int | None = None
    ) -> None:
        self.model = model
        self.block_size = model.config.block_size
        weight = model.tok_emb.weight  # float even in a quantized model
        self.ids = torch.zeros(batch_size, 0, dtype=torch.long, device=weight.device)
        self.valid = torch.zeros(batch_size, 0, dtype=torch.bool, device=weight.device)
        self.cache = (
            KVCache(model.config, batch_size, capacity, weight.dtype, weight.device)
            if use_cache
            else None
        )

    # --8<-- [start:feed]
    @torch.inference_mode()  # no autograd bookkeeping at all: faster than no_grad
    def feed(self, new: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Append new (B, k) ids (valid: (B, k) bool, default all real) and return the
        logits after each of them, (B, k, V): logits[:, i] is the distribution of the
        token that follows new[:, i]."""
        k = new.size(1)
        valid = torch.ones_like(new, dtype=torch.bool) if valid is None else valid.bool()
        before = self.valid.sum(dim=1, keepdim=True)  # real tokens already in the window
        self.ids = torch.cat([self.ids, new], dim=1)
        self.valid = torch.cat([self.valid, valid], dim=1)
        fits = self.cache is None or self.cache.length + k <= self.cache.capacity
        if self.ids.size(1) > self.block_size or not fits:
            keep = max(self.block_size // 2, k)
            self.ids, self.valid = self.ids[:, -keep:], self.valid[:, -keep:]
            return self._read_window()[:, -k:]
        if self.cache is None or self.cache.length == 0:
            return self._read_window()[:, -k:]
        pos = before + torch.arange(k, device=new.device)  # (B, k): after the real tokens
        mask = None if bool(valid.all()) else valid
        return self.model(new, positions=pos, attention_mask=mask, cache=self.cache)[0]

    # --8<-- [end:feed]

    def _read_window(self) -> torch.Tensor:
        """Run the model over the whole window (refilling the cache): (B, L, V)."""
        if self.cache is not None:
            self.cache.crop(0)
        mask = None if bool(self.valid.all()) else self.valid
        pos = positions_of(self.valid)
        return self.model(self.ids, positions=pos, attention_mask=mask, cache=self.cache)[0]

    def rewind(self, n: int) -> None:
        """Forget the last n tokens fed (speculative decoding drops rejected guesses)."""
        if not 0 <= n <= self.ids.size(1):
            raise ValueError(f"can rewind 0 .. {self.ids.size(1)} tokens, got {n}")
        if n == 0:
            return
        self.ids, self.valid = self.ids[:, :-n], self.valid[:, :-n]
        if self.cache is not None:
            self.cache.crop(self.cache.length - n)

    def reorder(self, rows: torch.Tensor) -> None:
        """Row b becomes the old row rows[b], (B,) (beam search keeps its best beams)."""
        self.ids, self.valid = self.ids[rows], self.valid[rows]
        if self.cache is not None:
            self.cache.reorder(rows)
