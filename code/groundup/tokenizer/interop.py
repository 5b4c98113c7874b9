"""Bridges to the production tokenizers we check ourselves against.

`tiktoken` and Hugging Face `tokenizers` are optional (the `docs` and `test`
extras); they are imported only when these functions are called.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from typing import Any

from groundup.tokenizer.bpe import BPETokenizer
from groundup.tokenizer.patterns import GPT4_SPLIT_PATTERN


# --8<-- [start:to_tiktoken]
def to_tiktoken(tok: BPETokenizer, name: str = "groundup") -> Any:
    """A `tiktoken.Encoding` with our ranks, pattern and special tokens."""
    import tiktoken

    return tiktoken.Encoding(
        name,
        pat_str=tok.pattern,
        mergeable_ranks=tok.ranks,
        special_tokens=tok.special_tokens,
    )


# --8<-- [end:to_tiktoken]


# --8<-- [start:train_hf_bpe]
def train_hf_bpe(
    texts: Iterable[str],
    vocab_size: int,
    pattern: str = GPT4_SPLIT_PATTERN,
    special_tokens: Collection[str] = (),
    threads: int | None = 1,
) -> Any:
    """Train Hugging Face `tokenizers`' byte-level BPE with the same split pattern.

    `threads=1` pins its Rust thread pool (RAYON_NUM_THREADS) for fair timing;
    it only takes effect if set before `tokenizers` first starts its pool.
    """
    if threads is not None:
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(special_tokens),
        show_progress=False,
    )
    hf.train_from_iterator(texts, trainer)
    return hf


# --8<-- [end:train_hf_bpe]


def bytes_per_token(n_bytes: int, n_tokens: int) -> float:
    """Compression: UTF-8 bytes per token (higher means fewer tokens for the same text)."""
    return n_bytes / max(n_tokens, 1)
