"""Command line: `python -m groundup.train --config run.json [--resume] [--max-steps N ...]`.

Under torchrun the same command trains on several processes:

    torchrun --nproc_per_node 2 -m groundup.train --config run.json
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from groundup.train.checkpoint import CheckpointError
from groundup.train.config import add_config_arguments, config_from_args
from groundup.train.loop import model_config_for, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m groundup.train",
        description="Train a GPT on a token file (see groundup.train.TrainConfig).",
    )
    parser.add_argument("--config", required=True, help="a .json or .toml TrainConfig file")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in out_dir (if any)",
    )
    add_config_arguments(parser)
    # For tests of crash recovery: SIGKILL this process right after update N.
    parser.add_argument("--kill-at-step", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        model_config_for(config)  # check the model fields and the token files up front
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def kill_at(step: int, loss: float) -> None:
        if step == args.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: a real crash

    try:
        result = train(
            config, resume=args.resume, on_step=kill_at if args.kill_at_step is not None else None
        )
    except (CheckpointError, FileExistsError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        final = result.eval_losses.get(result.step)
        summary = f"done: {result.step} steps, last train loss {result.losses[-1]:.4f}"
        if final is not None:
            summary += f", eval loss {final:.4f}"
        if result.checkpoint is not None:
            summary += f", checkpoint {result.checkpoint}"
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
