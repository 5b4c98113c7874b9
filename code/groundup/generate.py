"""Command line: `python -m groundup.generate "Once upon a time" --temperature 0.8 --top-p 0.95`.

Continues the prompt with the site model (trained first, with a progress bar, if the
cache folder has none yet) and prints the text as it is generated. `--help` lists
every option.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import sys
from collections.abc import Iterator

import torch

from groundup.inference import SamplingSettings, stream
from groundup.tokenizer import BPETokenizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m groundup.generate",
        description="Continue a prompt with the site model and stream the text.",
    )
    parser.add_argument("prompt", help="the text to continue")
    parser.add_argument(
        "--max-new-tokens", type=int, default=200, help="tokens to generate (default 200)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="softmax temperature; 0 picks the most likely token every time (default 0.8)",
    )
    parser.add_argument(
        "--top-k", type=int, default=None, help="sample only from the k most likely tokens"
    )
    parser.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        help="nucleus sampling: the smallest set of tokens with this much probability (default 1.0: all)",
    )
    parser.add_argument(
        "--min-p",
        type=float,
        default=0.0,
        help="drop tokens below this fraction of the top token's probability (default 0: none)",
    )
    parser.add_argument(
        "--repetition-penalty",
        type=float,
        default=1.0,
        help="divide the scores of tokens already in the text by this (default 1.0: none)",
    )
    parser.add_argument("--seed", type=int, default=None, help="make sampling reproducible")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute every earlier token at each step instead of using the KV cache (slow)",
    )
    parser.add_argument(
        "--no-stop",
        action="store_true",
        help="keep going past <|endoftext|> instead of stopping there",
    )
    return parser


def stream_text(tokenizer: BPETokenizer, ids: Iterator[int]) -> Iterator[str]:
    """Decode ids to text as they come; a character split across tokens waits for its end."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for token_id in ids:
        piece = decoder.decode(tokenizer.token_bytes(token_id))
        if piece:
            yield piece
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = SamplingSettings(
            args.temperature, args.top_k, args.top_p, args.min_p, args.repetition_penalty
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from groundup import site  # after parsing: --help answers at once

    with contextlib.redirect_stdout(sys.stderr):  # training's log is not the text
        loaded = site.load_site_model(progress=True)
    tokenizer, model = loaded.tokenizer, loaded.model
    prompt = tokenizer.encode_ordinary(args.prompt)
    if not prompt:
        print("error: the prompt is empty", file=sys.stderr)
        return 2
    prompt = prompt[-model.config.block_size :]
    eos = None if args.no_stop else tokenizer.special_tokens.get("<|endoftext|>")
    generator = None if args.seed is None else torch.Generator().manual_seed(args.seed)
    steps = stream(
        model, prompt, args.max_new_tokens, settings, eos_id=eos, generator=generator,
        use_cache=not args.no_cache,
    )  # fmt: skip
    ids = (int(step[0]) for step in steps)
    sys.stdout.write(args.prompt)
    for piece in stream_text(tokenizer, (i for i in ids if i != eos)):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
