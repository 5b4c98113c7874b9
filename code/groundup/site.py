"""The site's shared, cached artefacts: its corpus and its trained tokenizer.

Every article that needs "the site tokenizer" calls `site_tokenizer()`; the
first call trains it (a second or two) and later calls load it from the cache.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import groundup.tokenizer.bpe
import groundup.tokenizer.encode
import groundup.tokenizer.files
import groundup.tokenizer.train
from groundup.cache import cache_path
from groundup.corpus import load_corpus, split_corpus
from groundup.tokenizer import BPETokenizer, GPT4_SPLIT_PATTERN

SITE_VOCAB_SIZE = 4096
SITE_SPECIAL_TOKENS = ("<|endoftext|>",)
_TOKENIZER_CODE = (
    groundup.tokenizer.bpe,
    groundup.tokenizer.encode,
    groundup.tokenizer.files,
    groundup.tokenizer.train,
)


@lru_cache(maxsize=None)
def site_corpus() -> tuple[str, str]:
    """The site's (train, held-out) text: the built-in corpus, last 10% held out."""
    return split_corpus(load_corpus(None), holdout=0.1)


# --8<-- [start:site_tokenizer]
def site_tokenizer(
    vocab_size: int = SITE_VOCAB_SIZE,
    pattern: str = GPT4_SPLIT_PATTERN,
    special_tokens: tuple[str, ...] = SITE_SPECIAL_TOKENS,
) -> BPETokenizer:
    """Our tokenizer trained on the site's training text, cached on disk."""
    train_text, _ = site_corpus()
    inputs = {
        "corpus": hashlib.sha256(train_text.encode()).hexdigest(),
        "vocab_size": vocab_size,
        "pattern": pattern,
        "special_tokens": special_tokens,
    }
    path = cache_path("tokenizer", inputs, _TOKENIZER_CODE, suffix=".json")
    if path.exists():
        return BPETokenizer.load(path)
    tok = BPETokenizer.train(train_text, vocab_size, pattern, special_tokens)
    tok.save(path)
    return tok
# --8<-- [end:site_tokenizer]
