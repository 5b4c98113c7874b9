"""Checkpoints that survive a crash at any moment and refuse to load when damaged.

A checkpoint is everything needed to continue a run as if it never stopped: the
model's weights, the optimizer's moment estimates, the step, the configs, the
loss history, and the state of every random generator.

Two failure modes matter, and each has its guard:

- *Killed while writing.* The file is written under a temporary name in the same
  folder, flushed and fsync'ed, then renamed over the final name with
  `os.replace`, which is atomic: a reader sees the old file or the new one,
  never half of one. Older checkpoints are deleted only after the new one is on
  disk.
- *Damaged on disk* (truncated copy, flipped bits). The file starts with a small
  header holding the payload's length and SHA-256; loading checks both before
  unpickling anything, and raises `CheckpointError` instead of loading garbage.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import struct
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from groundup.atomic import atomic_write_bytes

MAGIC = b"GUCKPT\x00\x01"
HEADER = struct.Struct("<8sQ32s")  # magic, payload length, sha256 of the payload
NAME = re.compile(r"ckpt_(\d+)\.pt")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupted, or incompatible."""


def rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may draw from."""
    np_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,  # this GPU
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by `rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    random.setstate(state["python"])


# --8<-- [start:save]
def checkpoint_path(out_dir: str | Path, step: int) -> Path:
    """Where the checkpoint taken after `step` updates lives: out_dir/ckpt_00000100.pt."""
    return Path(out_dir) / f"ckpt_{step:08d}.pt"


def encode_checkpoint(state: dict[str, Any]) -> bytes:
    """Serialize `state` with `torch.save` behind a header: magic, length, SHA-256."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    return HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest()) + payload


def save_checkpoint(out_dir: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write `state` as the checkpoint of `step` atomically, then prune to the newest `keep`."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    path = checkpoint_path(out_dir, step)
    atomic_write_bytes(path, encode_checkpoint(state))  # temp file, fsync, os.replace
    _fsync_dir(path.parent)  # make the rename itself durable
    for old in list_checkpoints(out_dir)[:-keep]:  # only now is it safe to delete
        old.unlink(missing_ok=True)
    return path


# --8<-- [end:save]


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the result of a rename) to disk, where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def list_checkpoints(out_dir: str | Path) -> list[Path]:
    """All checkpoint files in `out_dir`, oldest step first (temporary files excluded)."""
    folder = Path(out_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step in `out_dir`, or None if there is none."""
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


# --8<-- [start:load]
def decode_checkpoint(data: bytes, source: str = "checkpoint") -> dict[str, Any]:
    """Check the header, length and SHA-256 of `data`, then unpickle it safely."""
    if len(data) < HEADER.size:
        raise CheckpointError(
            f"{source}: {len(data)} bytes is shorter than the {HEADER.size}-byte header (truncated)"
        )
    magic, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointError(f"{source}: not a Ground Up checkpoint (bad magic {magic!r})")
    payload = data[HEADER.size :]
    if len(payload) != length:
        raise CheckpointError(
            f"{source}: payload is {len(payload)} bytes but the header says {length}: "
            f"the file is truncated or was extended"
        )
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{source}: SHA-256 mismatch, the checkpoint is corrupted")
    try:  # weights_only: tensors and plain containers only, no arbitrary code
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as e:  # checksum passed, so this is a format problem, not damage
        raise CheckpointError(f"{source}: cannot unpickle the checkpoint: {e}") from e


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and verify a checkpoint file; raise `CheckpointError` if it is not intact."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint: {e}") from e
    return decode_checkpoint(data, str(path))


# --8<-- [end:load]
