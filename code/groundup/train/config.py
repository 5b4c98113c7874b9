"""`TrainConfig`: every knob of a training run, read from a JSON or TOML file.

A run is described by one file, e.g. `configs/tiny.json`:

    {"train_data": "data/train.bin", "val_data": "data/val.bin", "out_dir": "out/tiny",
     "model": {"n_layer": 2, "n_head": 2, "d_model": 64},
     "batch_size": 16, "block_size": 64, "max_steps": 500, "lr": 1e-3}

Relative paths in the file are relative to the file's folder. Any field can be
overridden on the command line (`--max-steps 1000`, `--set model.n_layer=4`),
where relative paths are relative to the current directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published as tomli before it joined the standard library
    import tomli as tomllib

PATH_FIELDS = ("train_data", "val_data", "out_dir")


# --8<-- [start:train_config]
@dataclass
class TrainConfig:
    """What to train, on what, for how long, and how."""

    # data and outputs
    train_data: str = "data/train.bin"  # token file written by groundup.train.write_tokens
    val_data: str | None = None  # None: evaluate on (fixed batches of) train_data
    out_dir: str = "out"  # checkpoints go here
    # the model: GPTConfig fields; vocab_size defaults to the token file's,
    # block_size to the training block_size below
    model: dict[str, Any] = field(default_factory=dict)
    # batches: each update sees world_size * grad_accum_steps * batch_size windows
    batch_size: int = 8  # windows per micro-step per process
    block_size: int = 64  # tokens per window (T)
    grad_accum_steps: int = 1  # micro-steps whose gradients add up to one update
    # optimization
    max_steps: int = 1000
    lr: float = 1e-3  # peak learning rate, reached after warmup
    min_lr: float = 1e-4  # floor of the cosine decay
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    # bookkeeping
    eval_interval: int = 100  # evaluate every this many steps (and at 0 and the end)
    eval_iters: int = 20  # batches per evaluation
    checkpoint_interval: int = 100  # checkpoint every this many steps (and at the end)
    keep_checkpoints: int = 2  # how many recent checkpoints stay on disk
    seed: int = 1337
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "mps"
    progress: bool = True  # tqdm progress bar on rank 0
    # --8<-- [end:train_config]

    def __post_init__(self) -> None:
        positive = (
            "batch_size",
            "block_size",
            "grad_accum_steps",
            "max_steps",
            "eval_interval",
            "eval_iters",
            "checkpoint_interval",
            "keep_checkpoints",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not 0 <= self.warmup_steps <= self.max_steps:
            raise ValueError(
                f"warmup_steps must be in [0, max_steps={self.max_steps}], got {self.warmup_steps}"
            )
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {self.beta1}, {self.beta2}")
        if not isinstance(self.model, dict):
            raise TypeError(f"model must be a dict of GPTConfig fields, got {self.model!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; `TrainConfig(**d)` rebuilds the config."""
        return dataclasses.asdict(self)


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _coerce(name: str, value: Any) -> Any:
    """Check (and where lossless, convert) a value read from a file or the command line."""
    hint = _field_types()[name]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    if value is None and optional:
        return None
    origin = typing.get_origin(hint) or hint
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if origin is dict and isinstance(value, dict):
        return dict(value)
    if not isinstance(value, origin) or (origin is int and isinstance(value, bool)):
        raise ValueError(f"{name} must be {hint.__name__}, got {value!r}")
    return value


def config_from_dict(data: dict[str, Any], base_dir: str | Path | None = None) -> TrainConfig:
    """Build a `TrainConfig`, rejecting unknown keys; resolve relative paths against `base_dir`."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; valid keys: {sorted(known)}")
    values = {k: _coerce(k, v) for k, v in data.items()}
    if base_dir is not None:
        for k in PATH_FIELDS:
            if values.get(k) is not None and not Path(values[k]).is_absolute():
                values[k] = str(Path(base_dir) / values[k])
    return TrainConfig(**values)


def load_config(path: str | Path) -> TrainConfig:
    """Read a `.json` or `.toml` config file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"{path}: config files must end in .json or .toml")
    if not isinstance(data, dict):
        raise TypeError(f"{path}: the config must be a JSON/TOML object (a table)")
    return config_from_dict(data, base_dir=path.parent)


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of `config` with fields replaced; `"model.n_layer"` sets a model field."""
    data = config.to_dict()
    for key, value in overrides.items():
        if key.startswith("model."):
            data["model"] = {**data["model"], key.removeprefix("model."): value}
        else:
            data[key] = value
    return config_from_dict(data)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--flag` per scalar TrainConfig field (`--max-steps 10`), plus `--set KEY=VALUE`."""
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.default is True or f.default is False:
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                type=str if f.type in ("str", "str | None") else _parse_value,
            )
    parser.add_argument(
        "--set",
        dest="set_",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any field, e.g. --set model.n_layer=4 (VALUE is JSON)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The config file named by `args.config`, with the command line's overrides applied."""
    config = load_config(args.config)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "model" and getattr(args, f.name, None) is not None
    }
    for item in args.set_:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _parse_value(raw)
    return apply_overrides(config, overrides)


def _parse_value(text: str) -> Any:
    """A command-line value: JSON if it parses (3, 1e-3, true, null, {...}), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text
