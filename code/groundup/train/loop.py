"""The training loop: batches in, gradient steps out, with evals and checkpoints.

One update (a "step") is:

1. set the learning rate from the schedule;
2. for each micro-step: draw a batch, forward, loss, backward (gradients add up);
3. clip the gradient norm, let AdamW update the weights, zero the gradients.

Around it: an evaluation every `eval_interval` steps, a checkpoint every
`checkpoint_interval` steps, and, when launched by torchrun, the process group
that lets N processes train one model together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from groundup.model import GPT, GPTConfig
from groundup.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from groundup.train.config import TrainConfig
from groundup.train.data import BatchLoader, open_tokens, read_header
from groundup.train.distributed import (
    DistInfo,
    barrier,
    distributed,
    gather_objects,
    mean_across_ranks,
    sum_across_ranks,
)
from groundup.train.loss import evaluate
from groundup.train.optim import clip_gradients, make_optimizer
from groundup.train.schedule import set_lr

TRAIN_STREAM, EVAL_STREAM = 0, 1


@dataclass
class TrainResult:
    """What a run produced. `losses[s]` is the training loss of update s."""

    model: nn.Module
    losses: list[float] = field(default_factory=list)
    eval_losses: dict[int, float] = field(default_factory=dict)  # step -> eval loss
    step: int = 0  # updates done
    checkpoint: Path | None = None  # the last one written


def model_config_for(config: TrainConfig) -> GPTConfig:
    """The GPTConfig of a run: `config.model`, with the vocabulary size of the token
    file and the training block size filled in where the model dict leaves them out."""
    vocab_size = int(read_header(config.train_data)["vocab_size"])
    if config.val_data:
        vocab_size = max(vocab_size, int(read_header(config.val_data)["vocab_size"]))
    try:
        model_config = GPTConfig(
            **{"vocab_size": vocab_size, "block_size": config.block_size, **config.model}
        )
    except TypeError as e:  # an unknown field name
        raise ValueError(f"bad model config {config.model}: {e}") from e
    if model_config.vocab_size < vocab_size:
        raise ValueError(
            f"model vocab_size {model_config.vocab_size} is smaller than the "
            f"token files' vocab_size {vocab_size}"
        )
    if model_config.block_size < config.block_size:
        raise ValueError(
            f"training block_size {config.block_size} exceeds the model's "
            f"block_size {model_config.block_size}"
        )
    return model_config


def params_digest(model: nn.Module) -> str:
    """SHA-256 of every tensor in the model's state: equal digests, equal weights."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# --8<-- [start:train_step]
def train_step(
    model: GPT | DistributedDataParallel,
    optimizer: torch.optim.Optimizer,
    loader: BatchLoader,
    step: int,
    config: TrainConfig,
    info: DistInfo,
) -> float:
    """One update from `grad_accum_steps` micro-batches; returns this process's mean loss.

    Micro-step m of rank r reads shard r * grad_accum_steps + m, so a run on
    N processes with A micro-steps sees the same data as one on 1 process with
    N * A micro-steps. Dividing each loss by A makes the summed gradients the
    gradient of the mean loss. Under DDP, `no_sync` skips the gradient all-reduce
    on all but the last micro-step.
    """
    set_lr(optimizer, step, config)
    A = config.grad_accum_steps
    total = 0.0
    for micro in range(A):
        x, y = loader.batch(step, shard=info.rank * A + micro)  # (B, T) each
        last = micro == A - 1
        sync: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if isinstance(model, DistributedDataParallel) and not last:
            sync = model.no_sync()  # all-reduce the gradients once, on the last micro-step
        with sync:
            _, loss = model(x, y)
            (loss / A).backward()
        total += loss.item()
    clip_gradients(model, config.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total / A


# --8<-- [end:train_step]


# --8<-- [start:save_run]
def save_run(
    out_dir: Path,
    step: int,
    model: GPT,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    losses: list[float],
    eval_losses: dict[int, float],
    info: DistInfo,
) -> Path | None:
    """Checkpoint on rank 0. Every rank contributes its RNG state and a weights digest."""
    per_rank = gather_objects({"rng": rng_state(), "params_sha256": params_digest(model)}, info)
    path = None
    if info.is_main:
        path = save_checkpoint(
            out_dir,
            step,
            {
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "model_config": dataclasses.asdict(model.config),
                "train_config": config.to_dict(),
                "losses": list(losses),
                "eval_losses": dict(eval_losses),
                "rng": [r["rng"] for r in per_rank],
                "params_sha256": [r["params_sha256"] for r in per_rank],
                "world_size": info.world_size,
            },
            keep=config.keep_checkpoints,
        )
    barrier(info)
    return path


# --8<-- [end:save_run]


def resume_from(
    path: Path, model: GPT, optimizer: torch.optim.Optimizer, info: DistInfo
) -> dict[str, Any]:
    """Load a checkpoint into `model` and `optimizer` and restore this rank's RNG state."""
    ckpt = load_checkpoint(path)
    if ckpt["model_config"] != dataclasses.asdict(model.config):
        raise CheckpointError(
            f"{path}: checkpoint was taken with model config {ckpt['model_config']}, "
            f"but this run builds {dataclasses.asdict(model.config)}"
        )
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if ckpt["world_size"] == info.world_size:
        set_rng_state(ckpt["rng"][info.rank])  # exact continuation
    elif info.is_main:
        tqdm.write(
            f"note: checkpoint has {ckpt['world_size']} ranks, this run "
            f"{info.world_size}: the run continues, but not bit-for-bit"
        )
    return ckpt


# --8<-- [start:train]
def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a GPT as `config` says; with `resume`, continue from the latest checkpoint.

    Works unchanged in one process or under torchrun (one process per rank).
    `on_step(step, loss)` is called after every update and its eval/checkpoint.
    """
    with distributed(config.device) as (info, device):
        train_tokens = open_tokens(config.train_data)
        val_tokens = open_tokens(config.val_data) if config.val_data else train_tokens
        train_loader = BatchLoader(
            train_tokens,
            config.batch_size,
            config.block_size,
            seed=config.seed,
            stream=TRAIN_STREAM,
            device=device,
        )
        val_loader = BatchLoader(
            val_tokens,
            config.batch_size,
            config.block_size,
            seed=config.seed,
            stream=EVAL_STREAM,
            device=device,
        )

        torch.manual_seed(config.seed)  # the same initial weights on every rank
        model = GPT(model_config_for(config)).to(device)
        optimizer = make_optimizer(
            model, config.lr, config.weight_decay, betas=(config.beta1, config.beta2)
        )
        torch.manual_seed(config.seed + info.rank)  # but each rank its own dropout noise

        result = TrainResult(model=model)
        out_dir = Path(config.out_dir)
        latest = latest_checkpoint(out_dir)
        if latest is not None and not resume:
            raise FileExistsError(
                f"{out_dir} already holds checkpoints ({latest.name}); "
                f"pass --resume to continue, or choose another out_dir"
            )
        if latest is not None:
            ckpt = resume_from(latest, model, optimizer, info)
            result.step, result.checkpoint = ckpt["step"], latest
            result.losses, result.eval_losses = ckpt["losses"], ckpt["eval_losses"]
            if info.is_main:
                tqdm.write(f"resuming from {latest} at step {result.step}")

        ddp = DistributedDataParallel(model) if info.enabled else model

        def eval_loss() -> float:  # the eval batches are split across the ranks
            part = evaluate(model, val_loader, config.eval_iters, (info.rank, info.world_size))
            return sum_across_ranks(part, info, device)

        if result.step == 0:
            result.eval_losses[0] = eval_loss()
        bar = tqdm(
            range(result.step, config.max_steps),
            initial=result.step,
            total=config.max_steps,
            disable=not (config.progress and info.is_main),
        )
        for step in bar:
            loss = train_step(ddp, optimizer, train_loader, step, config, info)
            result.losses.append(mean_across_ranks(loss, info, device))
            result.step = done = step + 1
            if done % config.eval_interval == 0 or done == config.max_steps:
                result.eval_losses[done] = eval_loss()
                if info.is_main:
                    tqdm.write(
                        f"step {done}: train loss {result.losses[-1]:.4f}, "
                        f"eval loss {result.eval_losses[done]:.4f}"
                    )
            if done % config.checkpoint_interval == 0 or done == config.max_steps:
                result.checkpoint = save_run(
                    out_dir, done, model, optimizer, config, result.losses, result.eval_losses, info
                )
            bar.set_postfix(loss=f"{result.losses[-1]:.4f}")
            if on_step is not None:
                on_step(done, result.losses[-1])
        bar.close()
        return result


# --8<-- [end:train]
