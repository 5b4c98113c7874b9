"""Why warmup: the size of Adam's first updates, measured.

Adam divides each gradient coordinate by a running estimate of its own size, so
its update is about `lr` per coordinate whatever the gradient's scale. At the
very first step the estimate is built from one gradient, m / sqrt(v) = g / |g|,
and every weight that has a gradient moves by exactly lr. Later, coordinates
whose gradients change sign from batch to batch average out and move less.
`first_updates` replays the start of a training run (the same initial weights,
batches, dropout noise and optimizer as `groundup.train.train`) and records how
far each update moves the weights.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from groundup.atomic import atomic_write_text
from groundup.cache import timed
from groundup.model import GPT
from groundup.site import SITE_TRAINING
from groundup.train.config import TrainConfig
from groundup.train.data import BatchLoader, open_tokens
from groundup.train.loop import TRAIN_STREAM, model_config_for
from groundup.train.optim import clip_gradients, make_optimizer
from groundup.train.schedule import set_lr


@dataclass(frozen=True)
class Update:
    """One update of a run: its learning rate, loss, gradient norm and how far it moved."""

    step: int
    lr: float
    loss: float
    grad_norm: float  # global L2 norm before clipping
    rms_update: float  # root mean square of the change of every weight matrix entry
    rms_weight: float  # root mean square of the weight matrix entries before the update


# --8<-- [start:first_updates]
def first_updates(config: TrainConfig, steps: int) -> list[Update]:
    """Replay updates 0..steps-1 of `config` on one process, measuring each one."""
    loader = BatchLoader(
        open_tokens(config.train_data),
        config.batch_size,
        config.block_size,
        seed=config.seed,
        stream=TRAIN_STREAM,
    )
    torch.manual_seed(config.seed)  # as train(): same initial weights
    model = GPT(model_config_for(config)).train()
    optimizer = make_optimizer(
        model, config.lr, config.weight_decay, betas=(config.beta1, config.beta2)
    )
    torch.manual_seed(config.seed)  # rank 0's dropout noise
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    updates = []
    for step in range(steps):
        lr = set_lr(optimizer, step, config)
        x, y = loader.batch(step)
        _, loss = model(x, y)
        loss.backward()
        grad_norm = clip_gradients(model, config.grad_clip)
        before = torch.cat([p.detach().flatten() for p in matrices])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        after = torch.cat([p.detach().flatten() for p in matrices])
        updates.append(
            Update(
                step,
                lr,
                loss.item(),
                grad_norm,
                (after - before).pow(2).mean().sqrt().item(),
                before.pow(2).mean().sqrt().item(),
            )
        )
    return updates


# --8<-- [end:first_updates]


# The variant the page compares with the site run: no warmup, a constant learning rate at
# the site run's peak, for 150 updates.
NO_WARMUP = {"max_steps": 150, "warmup_steps": 0, "min_lr": SITE_TRAINING["lr"]}


@timed("first updates")
def site_first_updates(steps: int, **training: Any) -> list[Update]:
    """`first_updates` of the site model's run (or a variant's), cached on disk."""
    from groundup import site
    from groundup.cache import cache_path

    config = site.site_run_config(Path("unused"), **training)
    inputs = {
        "steps": steps,
        "config": {
            k: v
            for k, v in config.to_dict().items()
            if k not in ("out_dir", "train_data", "val_data")
        },
        "tokens": [p.name for p in site.site_token_files()],
    }
    path = cache_path(
        "first-updates", inputs, (*site._MODEL_CODE, sys.modules[__name__]), suffix=".json"
    )
    if not path.exists():
        updates = first_updates(config, steps)
        atomic_write_text(path, json.dumps([dataclasses.asdict(u) for u in updates]))
    return [Update(**u) for u in json.loads(path.read_text())]
