"""Token files on disk and the batches a training step reads from them.

A corpus is tokenized once and stored as a flat array of token ids: a 64-byte
header (magic, dtype, length, vocabulary size, SHA-256 of the ids) followed by
the ids as little-endian uint16 (vocabularies up to 65,536) or uint32. Training
opens the file as a `numpy.memmap`, so a corpus larger than memory costs nothing
to "load": the operating system pages in only the windows a batch touches.

A batch is B random windows of T + 1 consecutive tokens. The first T are the
input `x`; the last T, the same window shifted by one, are the targets `y`:
at every position t the model sees tokens 0..t and must predict token t + 1.

Which windows a step draws depends only on (seed, stream, shard, step), never
on what ran before, so a run resumed from a checkpoint at step k draws exactly
the batches the uninterrupted run drew from step k on.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from groundup.atomic import atomic_write_bytes

MAGIC = b"GUTOKENS"
VERSION = 1
HEADER = struct.Struct("<8sIIQQ32s")  # magic, version, itemsize, n_tokens, vocab_size, sha256
assert HEADER.size == 64


class TokenFileError(ValueError):
    """A token file is missing, truncated, corrupted, or not a token file at all."""


# --8<-- [start:write_tokens]
def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds ids 0..vocab_size-1: uint16 or uint32."""
    if not 1 <= vocab_size <= 2**32:
        raise ValueError(f"vocab_size must be in [1, 2**32], got {vocab_size}")
    return np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")


def write_tokens(path: str | Path, ids: Sequence[int] | np.ndarray, vocab_size: int) -> Path:
    """Write token `ids` (1-D, each in [0, vocab_size)) to `path` atomically."""
    dtype = token_dtype(vocab_size)
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"ids must lie in [0, {vocab_size}), found min {ids.min()} and max {ids.max()}"
        )
    payload = ids.astype(dtype).tobytes()
    header = HEADER.pack(
        MAGIC,
        VERSION,
        dtype.itemsize,
        ids.size,
        vocab_size,
        hashlib.sha256(payload).digest(),
    )
    atomic_write_bytes(path, header + payload)
    return Path(path)


# --8<-- [end:write_tokens]


def read_header(path: str | Path) -> dict[str, int | bytes]:
    """Parse and check the header of a token file; raise `TokenFileError` if it is wrong.

    Checks the magic bytes, the format version, the item size, and that the file is
    exactly header + n_tokens * itemsize bytes long (which catches truncation).
    """
    path = Path(path)
    if not path.is_file():
        raise TokenFileError(f"{path}: no such token file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(HEADER.size)
    if len(raw) < HEADER.size:
        raise TokenFileError(
            f"{path}: {size} bytes is shorter than the {HEADER.size}-byte header "
            f"(truncated, or not a token file)"
        )
    magic, version, itemsize, n_tokens, vocab_size, digest = HEADER.unpack(raw)
    if magic != MAGIC:
        raise TokenFileError(f"{path}: not a token file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise TokenFileError(f"{path}: unsupported token file version {version}")
    if itemsize not in (2, 4) or itemsize != token_dtype(vocab_size).itemsize:
        raise TokenFileError(
            f"{path}: corrupted header (itemsize {itemsize}, vocab_size {vocab_size})"
        )
    expected = HEADER.size + n_tokens * itemsize
    if size != expected:
        raise TokenFileError(
            f"{path}: file is {size} bytes but its header promises {expected} "
            f"({n_tokens} tokens of {itemsize} bytes): truncated or corrupted"
        )
    return {"itemsize": itemsize, "n_tokens": n_tokens, "vocab_size": vocab_size, "sha256": digest}


# --8<-- [start:open_tokens]
def open_tokens(path: str | Path, *, verify: bool = True) -> np.ndarray:
    """Memory-map a token file as a read-only 1-D array of ids.

    The header is always checked (magic, version, exact length). With `verify`,
    the SHA-256 of all ids is recomputed too, catching flipped bytes; this reads
    the whole file once, so pass `verify=False` for corpora you trust.
    """
    header = read_header(path)
    dtype = np.dtype("<u2") if header["itemsize"] == 2 else np.dtype("<u4")
    n = int(header["n_tokens"])
    if n == 0:
        return np.zeros(0, dtype=dtype)  # mmap cannot map zero bytes
    tokens = np.memmap(path, dtype=dtype, mode="r", offset=HEADER.size, shape=(n,))
    if verify:
        digest = hashlib.sha256()
        for start in range(0, n, 1 << 22):
            digest.update(tokens[start : start + (1 << 22)].tobytes())
        if digest.digest() != header["sha256"]:
            raise TokenFileError(f"{path}: checksum mismatch, the token ids are corrupted")
    return tokens


# --8<-- [end:open_tokens]


# --8<-- [start:batch_generator]
def batch_generator(seed: int, step: int, shard: int = 0, stream: int = 0) -> torch.Generator:
    """A random generator that depends only on (seed, stream, shard, step).

    `shard` tells apart the batches drawn in the same step by different ranks (and
    by the micro-steps of gradient accumulation); `stream` tells apart training
    batches (0) from evaluation batches (1). `SeedSequence` mixes the four numbers
    so that nearby keys give unrelated generators.
    """
    for name, value in (("seed", seed), ("step", step), ("shard", shard), ("stream", stream)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    key = np.random.SeedSequence([seed, stream, shard, step]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(key))


# --8<-- [end:batch_generator]


# --8<-- [start:get_batch]
def get_batch(
    tokens: np.ndarray, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """B random windows of the token array: inputs x and next-token targets y.

    Returns x, y: LongTensors of shape (B, T) with y[b, t] == x[b, t + 1] for
    t < T - 1, i.e. y is x shifted left by one and extended by the next token.
    """
    n = len(tokens)
    if batch_size < 1 or block_size < 1:
        raise ValueError(f"batch_size, block_size must be >= 1, got {batch_size}, {block_size}")
    if n < block_size + 1:
        raise ValueError(
            f"a window of block_size + 1 = {block_size + 1} tokens does not fit "
            f"in {n} tokens; use more data or a smaller block_size"
        )
    starts = torch.randint(n - block_size, (batch_size,), generator=generator)
    rows = np.stack([tokens[i : i + block_size + 1] for i in starts.tolist()])
    windows = torch.from_numpy(rows.astype(np.int64))  # (B, T + 1)
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


# --8<-- [end:get_batch]


class BatchLoader:
    """The batches of one token file for one rank: `loader.batch(step)` -> (x, y).

    Batches are a pure function of (seed, stream, shard, step): asking twice for
    the same step gives the same tensors, so evaluation batches are fixed and
    resumed runs see the batches an uninterrupted run would.
    """

    def __init__(
        self,
        tokens: np.ndarray | str | Path,
        batch_size: int,
        block_size: int,
        *,
        seed: int = 0,
        stream: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.tokens = open_tokens(tokens) if isinstance(tokens, (str, Path)) else tokens
        if batch_size < 1 or block_size < 1:
            raise ValueError(f"batch_size, block_size must be >= 1, got {batch_size}, {block_size}")
        if len(self.tokens) < block_size + 1:
            raise ValueError(
                f"the token file has {len(self.tokens)} tokens, fewer than "
                f"block_size + 1 = {block_size + 1}: use more data or a smaller block_size"
            )
        self.batch_size = batch_size
        self.block_size = block_size
        self.seed = seed
        self.stream = stream
        self.device = torch.device(device)

    def batch(self, step: int, shard: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """x, y of shape (batch_size, block_size) for this step and shard, on `device`."""
        g = batch_generator(self.seed, step, shard, self.stream)
        x, y = get_batch(self.tokens, self.batch_size, self.block_size, g)
        return x.to(self.device), y.to(self.device)
