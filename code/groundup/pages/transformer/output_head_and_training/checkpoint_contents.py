"""What a checkpoint of `groundup.train` holds, entry by entry.

A checkpoint must hold everything the next update depends on: the weights, the
optimizer's two moment estimates per weight, the step (which fixes the learning
rate and the batches), the configs, the loss history and the random generators.
"""

from __future__ import annotations

from typing import Any

import torch


def _numel(obj: Any) -> int:
    """Numbers held in all the tensors inside `obj` (nested dicts and lists)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel()
    if isinstance(obj, dict):
        return sum(_numel(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_numel(v) for v in obj)
    return 0


def _distinct(tensors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The tensors of a state dict, each shared storage (a tied matrix) counted once."""
    seen: dict[int, torch.Tensor] = {}
    for t in tensors.values():
        seen.setdefault(t.untyped_storage().data_ptr(), t)
    return list(seen.values())


def describe_checkpoint(ckpt: dict[str, Any]) -> list[tuple[str, str]]:
    """(entry, what it holds) for every entry of a checkpoint made by `save_run`."""
    weights = _distinct(ckpt["model"])
    shared = len(ckpt["model"]) - len(weights)
    state = ckpt["optimizer"]["state"]
    moments = sum(_numel(s.get("exp_avg")) + _numel(s.get("exp_avg_sq")) for s in state.values())
    about = {
        "step": f"{ckpt['step']}: updates done, so the next one is update {ckpt['step']}",
        "model": (
            f"{len(ckpt['model'])} named tensors"
            + (f" ({shared} sharing another's storage: a tied head)" if shared else "")
            + f", {_numel(weights):,} numbers: the weights"
        ),
        "optimizer": (
            f"AdamW's running means of the gradient and of its square for "
            f"{len(state)} tensors: {moments:,} numbers, twice the weights"
        ),
        "model_config": f"{len(ckpt['model_config'])} GPTConfig fields, to rebuild the model",
        "train_config": f"{len(ckpt['train_config'])} TrainConfig fields, to continue the run",
        "losses": f"{len(ckpt['losses'])} training losses, one per update",
        "eval_losses": f"{len(ckpt['eval_losses'])} held-out losses, keyed by step",
        "rng": (
            f"the state of the torch, CUDA, NumPy and Python generators, "
            f"per process ({len(ckpt['rng'])})"
        ),
        "params_sha256": "a digest of the weights on each process, to check replicas agree",
        "world_size": f"{ckpt['world_size']}: how many processes trained",
    }
    return [(key, about.get(key, type(value).__name__)) for key, value in ckpt.items()]
