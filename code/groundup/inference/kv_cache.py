"""`KVCache`: the keys and values a `GPT` has already computed, kept for the next step.

Generating one token at a time, the model would otherwise recompute the keys and
values of every earlier token at every step. The cache is allocated once, for
`capacity` tokens, and filled slot by slot: slot t of every layer holds the key and
value of the t-th token fed to the model (padding included, marked invalid), so a
step writes only its own new slots and never copies what is already there.

When it is full it refuses more tokens with a clear error; `groundup.inference.generate`
then slides its window (see there). `crop` forgets the last tokens (speculative decoding
rolls back rejected ones) and `reorder` picks rows (beam search follows its beams).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groundup.model.config import GPTConfig


# --8<-- [start:allocate]
class KVCache:
    """Preallocated keys and values for `batch_size` rows of up to `capacity` tokens.

    keys, values: (n_layer, B, n_kv_heads, capacity, head_dim), only n_kv_heads of
    them: grouped-query and multi-query attention store fewer heads than they query.
    valid: (B, capacity) bool, False for padding; positions: (B, capacity) int64.
    `length` slots of each are filled.
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        capacity: int | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        capacity = config.block_size if capacity is None else capacity
        if not 1 <= capacity <= config.block_size:
            raise ValueError(
                f"capacity must be in [1, block_size={config.block_size}], got {capacity}: "
                f"the model has no positions beyond its context"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        shape = (config.n_layer, batch_size, config.kv_heads, capacity, config.dim_per_head)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.valid = torch.zeros(batch_size, capacity, dtype=torch.bool, device=device)
        self.positions = torch.zeros(batch_size, capacity, dtype=torch.long, device=device)
        self.capacity = capacity
        self.length = 0
        self.has_padding = False  # any invalid slot among the filled ones

    # --8<-- [end:allocate]

    @property
    def batch_size(self) -> int:
        return self.valid.size(0)

    # --8<-- [start:nbytes]
    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values: 2 x layers x B x kv_heads x capacity x head_dim x bytes."""
        return self.keys.nbytes + self.values.nbytes

    # --8<-- [end:nbytes]

    # --8<-- [start:reserve]
    def reserve(self, valid: torch.Tensor | None, positions: torch.Tensor) -> None:
        """Claim the next T slots for new tokens: valid (B, T) bool (None: all real),
        positions (B, T). The model calls this once per forward, before its layers
        write keys and values.
        """
        T = positions.size(1)
        if self.length + T > self.capacity:
            raise ValueError(
                f"the KV cache is full: it holds {self.length} of {self.capacity} tokens and "
                f"cannot take {T} more; crop it, or start a new window (generate slides it)"
            )
        if positions.size(0) != self.batch_size:
            raise ValueError(
                f"the cache was made for batch size {self.batch_size}, got {positions.size(0)} rows"
            )
        end = self.length + T
        self.valid[:, self.length : end] = True if valid is None else valid
        self.positions[:, self.length : end] = positions
        if valid is not None:
            self.has_padding = self.has_padding or not bool(valid.all())
        self.length = end

    # --8<-- [end:reserve]

    def layer(self, index: int) -> LayerCache:
        """The view that layer `index`'s attention writes its keys and values into."""
        return LayerCache(self.keys[index], self.values[index], self)

    def crop(self, length: int) -> None:
        """Forget every slot from `length` on (the memory stays allocated)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"can crop to 0 .. {self.length} tokens, got {length}")
        self.length = length
        self.has_padding = not bool(self.valid[:, :length].all())

    def reorder(self, rows: torch.Tensor) -> None:
        """Row b becomes the old row rows[b] (B,), as beam search follows its best beams."""
        n = self.length
        self.keys[:, :, :, :n] = self.keys[:, rows, :, :n]
        self.values[:, :, :, :n] = self.values[:, rows, :, :n]
        self.valid[:, :n] = self.valid[rows, :n]
        self.positions[:, :n] = self.positions[rows, :n]


# --8<-- [start:update]
@dataclass
class LayerCache:
    """One layer's slice of a `KVCache`: keys, values (B, n_kv_heads, capacity, head_dim)."""

    keys: torch.Tensor
    values: torch.Tensor
    owner: KVCache

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new tokens' k, v (B, n_kv_heads, T, hd) in the slots just reserved;
        return every key and value so far, (B, n_kv_heads, S, hd) with S = length."""
        end = self.owner.length
        start = end - k.size(2)
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        return self.keys[:, :, :end], self.values[:, :, :end]


# --8<-- [end:update]
