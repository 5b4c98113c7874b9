"""Training essentials: token files and batches, the lr schedule, AdamW, checkpoints,
the training loop (single process or torchrun/DDP), and its command line."""

from groundup.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from groundup.train.config import TrainConfig, apply_overrides, load_config
from groundup.train.data import (
    BatchLoader,
    TokenFileError,
    batch_generator,
    get_batch,
    open_tokens,
    write_tokens,
)
from groundup.train.loop import TrainResult, train, train_step
from groundup.train.loss import cross_entropy, evaluate
from groundup.train.optim import clip_gradients, make_optimizer, param_groups
from groundup.train.schedule import lr_at, set_lr

__all__ = [
    "BatchLoader",
    "CheckpointError",
    "TokenFileError",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "batch_generator",
    "clip_gradients",
    "cross_entropy",
    "evaluate",
    "get_batch",
    "latest_checkpoint",
    "load_checkpoint",
    "load_config",
    "lr_at",
    "set_lr",
    "make_optimizer",
    "open_tokens",
    "param_groups",
    "save_checkpoint",
    "train",
    "train_step",
    "write_tokens",
]
