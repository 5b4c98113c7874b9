"""Command line: turn text into the token files a training run reads.

    python -m groundup.train.prepare data/                        # the site corpus
    python -m groundup.train.prepare data/ --text input.txt --tokenizer tok.json

Writes `data/train.bin` and `data/val.bin` (the last `--holdout` of the text, cut at
a line boundary), encoded with the site tokenizer or a saved `BPETokenizer` file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundup.corpus import load_corpus, split_corpus
from groundup.tokenizer import BPETokenizer
from groundup.train.data import write_tokens


def prepare(
    out_dir: str | Path, text: str, tokenizer: BPETokenizer, holdout: float = 0.1
) -> tuple[Path, Path]:
    """Encode `text` and write (train.bin, val.bin) into `out_dir`."""
    train_text, val_text = split_corpus(text, holdout=holdout)
    out_dir = Path(out_dir)
    paths = out_dir / "train.bin", out_dir / "val.bin"
    for path, part in zip(paths, (train_text, val_text)):
        write_tokens(path, tokenizer.encode_ordinary(part), tokenizer.vocab_size)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m groundup.train.prepare",
        description="Write train.bin and val.bin token files.",
    )
    parser.add_argument("out_dir", help="folder for train.bin and val.bin")
    parser.add_argument(
        "--text", default=None, help="a UTF-8 text file or http(s) URL (default: the site corpus)"
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="a tokenizer saved with BPETokenizer.save (default: the site tokenizer)",
    )
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction kept for val.bin")
    args = parser.parse_args(argv)
    try:
        text = load_corpus(args.text)
        if args.tokenizer is None:
            from groundup.site import site_tokenizer

            tokenizer = site_tokenizer()
        else:
            tokenizer = BPETokenizer.load(args.tokenizer)
        train_path, val_path = prepare(args.out_dir, text, tokenizer, args.holdout)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {train_path} and {val_path} (vocab {tokenizer.vocab_size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
