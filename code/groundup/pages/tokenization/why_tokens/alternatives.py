"""The two other subword algorithms in wide use, trained with Hugging Face `tokenizers`.

* WordPiece (BERT): merges the pair with the best likelihood score, and marks
  pieces that continue a word with "##".
* Unigram LM (SentencePiece, T5): starts from a large vocabulary and prunes it;
  a word is segmented into its most probable pieces.

We do not implement these ourselves; the "Why models need tokens" article
trains them on the site corpus to compare their segmentations with our BPE.
Results are cached on disk like the site tokenizer (`groundup.cache`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from groundup.atomic import atomic_write_text
from groundup.cache import cache_path, timed

WORDPIECE_UNK = "[UNK]"
UNIGRAM_UNK = "<unk>"


def train_hf_wordpiece(texts: Sequence[str], vocab_size: int, threads: int | None = 1) -> Any:
    """A BERT-style WordPiece tokenizer (no lower-casing) trained on `texts`."""
    _pin_threads(threads)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.WordPiece(unk_token=WORDPIECE_UNK))
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=[WORDPIECE_UNK], show_progress=False
    )
    hf.train_from_iterator(texts, trainer)
    return hf


def train_hf_unigram(texts: Sequence[str], vocab_size: int, threads: int | None = 1) -> Any:
    """A SentencePiece-style Unigram LM tokenizer trained on `texts`.

    Spaces become "▁" (U+2581) and start the piece that follows, as in SentencePiece.
    """
    _pin_threads(threads)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.Unigram())
    hf.pre_tokenizer = pre_tokenizers.Metaspace()
    hf.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        unk_token=UNIGRAM_UNK,
        special_tokens=[UNIGRAM_UNK],
        show_progress=False,
    )
    hf.train_from_iterator(texts, trainer)
    return hf


def cached_hf(kind: str, texts: Sequence[str], vocab_size: int) -> Any:
    """`train_hf_wordpiece` (kind="wordpiece") or `train_hf_unigram` (kind="unigram"),
    trained once and then loaded from the cache folder."""
    trainers = {"wordpiece": train_hf_wordpiece, "unigram": train_hf_unigram}
    if kind not in trainers:
        raise ValueError(f"kind must be one of {sorted(trainers)}, got {kind!r}")
    from tokenizers import Tokenizer, __version__

    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    inputs = {
        "kind": kind,
        "texts": digest.hexdigest(),
        "vocab_size": vocab_size,
        "tokenizers": __version__,
    }
    with timed(f"hf {kind} tokenizer"):
        path = cache_path(f"hf-{kind}", inputs, (sys.modules[__name__],), suffix=".json")
        if path.exists():
            return Tokenizer.from_file(str(path))
        hf = trainers[kind](texts, vocab_size)
        atomic_write_text(path, hf.to_str())
        return hf


def pieces(hf: Any, text: str) -> list[str]:
    """The pieces `hf` cuts `text` into, with unknown pieces shown as the unknown token.

    (`Encoding.tokens` shows the original characters even where the id is the
    unknown token's, which hides the information loss.)
    """
    encoding = hf.encode(text)
    unk_ids = {hf.token_to_id(t) for t in (WORDPIECE_UNK, UNIGRAM_UNK)} - {None}
    return [
        hf.id_to_token(i) if i in unk_ids else token
        for i, token in zip(encoding.ids, encoding.tokens)
    ]


def _pin_threads(threads: int | None) -> None:
    """Pin the Rust thread pool (it only takes effect before `tokenizers` starts it)."""
    if threads is not None:
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
