"""Tokenizer files: our own JSON format, and GPT-2's published `encoder.json` + `vocab.bpe`.

Our format (version 1) is plain JSON, one token per line, so it can be read and
diffed by eye:

    {
      "format": "groundup-bpe",
      "version": 1,
      "pattern": "<the split regex>",
      "special_tokens": {"<|endoftext|>": 4096},
      "checksum": "sha256:<hex digest of pattern, special tokens, tokens, merges>",
      "tokens": [
        [0, "00", "\\u0000"],
        [256, "2074", " t"],
        ...
      ],
      "merges": [[32, 116, 1954], ...]
    }

Each token is `[id, hex of its bytes, readable text]`; the hex is what counts, the
text is for people (invalid UTF-8 shows as U+FFFD). `merges` lists `[a, b, count]`
for a tokenizer we trained (empty otherwise). The checksum makes any edit,
truncation or corruption a clear `TokenizerFileError` instead of a silently
wrong tokenizer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from groundup.atomic import atomic_write_text
from groundup.tokenizer.bpe import BPETokenizer
from groundup.tokenizer.patterns import GPT2_SPLIT_PATTERN
from groundup.tokenizer.train import Merge

FORMAT = "groundup-bpe"
VERSION = 1


class TokenizerFileError(ValueError):
    """A tokenizer file is missing fields, truncated, corrupted or of another version."""


def _checksum(
    pattern: str, special: dict[str, int], tokens: list[list[Any]], merges: list[list[int]]
) -> str:
    canonical = json.dumps(
        [pattern, sorted(special.items()), tokens, merges], separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --8<-- [start:save_tokenizer]
def save_tokenizer(tok: BPETokenizer, path: str | Path) -> None:
    """Write `tok` to `path` in the format above, atomically."""
    tokens: list[list[Any]] = [
        [i, b.hex()] for b, i in sorted(tok.ranks.items(), key=lambda kv: kv[1])
    ]
    merges = [[m.pair[0], m.pair[1], m.count] for m in tok.merges]
    special = tok.special_tokens
    header = {
        "format": FORMAT,
        "version": VERSION,
        "pattern": tok.pattern,
        "special_tokens": special,
        "checksum": _checksum(tok.pattern, special, tokens, merges),
    }
    lines = [json.dumps(header, indent=2)[:-2] + ",", '  "tokens": [']
    shown = [
        json.dumps([i, h, bytes.fromhex(h).decode("utf-8", errors="replace")], ensure_ascii=False)
        for i, h in tokens
    ]
    lines.append(",\n".join("    " + s for s in shown))
    lines.append("  ],")
    lines.append('  "merges": [' + ", ".join(json.dumps(m) for m in merges) + "]")
    lines.append("}")
    atomic_write_text(path, "\n".join(lines) + "\n")


# --8<-- [end:save_tokenizer]


def load_tokenizer(path: str | Path) -> BPETokenizer:
    """Read a file written by `save_tokenizer`, checking format, version and checksum."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TokenizerFileError(
            f"{path}: not a complete tokenizer file (truncated or corrupted?): {e}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TokenizerFileError(f"{path}: not a {FORMAT} tokenizer file")
    if data.get("version") != VERSION:
        raise TokenizerFileError(
            f"{path}: tokenizer file version {data.get('version')!r} is not supported "
            f"(this groundup reads version {VERSION})"
        )
    try:
        pattern = data["pattern"]
        special = {str(s): int(i) for s, i in data["special_tokens"].items()}
        tokens: list[list[Any]] = [[int(t[0]), str(t[1])] for t in data["tokens"]]
        merges = [[int(a), int(b), int(c)] for a, b, c in data["merges"]]
        checksum = data["checksum"]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise TokenizerFileError(f"{path}: malformed tokenizer file: {e!r}") from None
    if checksum != _checksum(pattern, special, tokens, merges):
        raise TokenizerFileError(f"{path}: checksum mismatch: the file was edited or corrupted")
    ranks = {bytes.fromhex(str(h)): int(i) for i, h in tokens}
    return BPETokenizer(
        ranks,
        pattern,
        special,
        [Merge((a, b), 256 + k, c) for k, (a, b, c) in enumerate(merges)],
    )


# --8<-- [start:bytes_to_unicode]
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable characters.

    Printable bytes map to themselves; the rest (control bytes, space, ...) are
    shifted to code points 256+, which is why GPT-2 files show a space as 'Ġ'.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


# --8<-- [end:bytes_to_unicode]


def load_gpt2_files(encoder_json: str | Path, vocab_bpe: str | Path) -> BPETokenizer:
    """Load GPT-2's published tokenizer (`encoder.json` + `vocab.bpe`).

    The merges in `vocab.bpe` must agree with the ids in `encoder.json`
    (merge k creates id 256 + k); otherwise `TokenizerFileError`.
    """
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    try:
        encoder = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
        merge_lines = Path(vocab_bpe).read_text(encoding="utf-8").split("\n")
        ranks: dict[bytes, int] = {}
        special: dict[str, int] = {}
        for token, i in encoder.items():
            if token == "<|endoftext|>":
                special[token] = i
            else:
                ranks[bytes(byte_of[c] for c in token)] = i
        merges = [line.split(" ") for line in merge_lines[1:] if line]
        for k, (a, b) in enumerate(merges):
            merged = bytes(byte_of[c] for c in a + b)
            if ranks.get(merged) != 256 + k:
                raise TokenizerFileError(
                    f"{vocab_bpe}: merge {k} ({a!r} + {b!r}) disagrees with {encoder_json}"
                )
        if len(merges) != len(ranks) - 256:
            raise TokenizerFileError(
                f"{vocab_bpe} has {len(merges)} merges but {encoder_json} has "
                f"{len(ranks) - 256} merged tokens (truncated or mismatched files?)"
            )
    except (json.JSONDecodeError, KeyError, ValueError, AttributeError) as e:
        if isinstance(e, TokenizerFileError):
            raise
        raise TokenizerFileError(f"not GPT-2 tokenizer files: {e!r}") from None
    return BPETokenizer(ranks, GPT2_SPLIT_PATTERN, special)
