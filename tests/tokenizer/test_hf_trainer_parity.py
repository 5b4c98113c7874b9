"""Our trainer against Hugging Face `tokenizers`' BPE trainer, on the same text.

Both split text with the same pattern and run the same greedy algorithm; they
break ties differently, so the vocabularies differ a little. Compression on
held-out text (UTF-8 bytes per token) must agree within 5%. Run with `-s` to see
the side-by-side table; it is also attached to the test report as a property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from groundup.corpus import split_corpus
from groundup.site import site_corpus
from groundup.tokenizer import GPT4_SPLIT_PATTERN, BPETokenizer
from groundup.tokenizer.interop import bytes_per_token, train_hf_bpe

SPECIALS = ["<|endoftext|>"]


@dataclass
class Row:
    corpus: str
    vocab_size: int
    ours: BPETokenizer
    hf: Any
    held_out: str
    ours_bpt: float = 0.0
    hf_bpt: float = 0.0

    @property
    def ratio(self) -> float:
        return self.ours_bpt / self.hf_bpt


@pytest.fixture(scope="module")
def rows(shakespeare) -> list[Row]:
    corpora = {
        "site": site_corpus(),
        "shakespeare": split_corpus(shakespeare, holdout=0.1),
    }
    out = []
    for name, (train, held) in corpora.items():
        for vocab_size in (1024, 4096):
            ours = BPETokenizer.train(train, vocab_size, GPT4_SPLIT_PATTERN, SPECIALS)
            hf = train_hf_bpe([train], vocab_size, GPT4_SPLIT_PATTERN, SPECIALS)
            row = Row(name, vocab_size, ours, hf, held)
            n_bytes = len(held.encode("utf-8"))
            row.ours_bpt = bytes_per_token(n_bytes, len(ours.encode_ordinary(held)))
            row.hf_bpt = bytes_per_token(n_bytes, len(hf.encode(held).ids))
            out.append(row)
    return out


def format_table(rows: list[Row]) -> str:
    lines = [
        f"{'corpus':<12} {'vocab':>6} {'ours B/tok':>11} {'HF B/tok':>9} {'ours/HF':>8}",
        "-" * 50,
    ]
    for r in rows:
        lines.append(
            f"{r.corpus:<12} {r.vocab_size:>6} {r.ours_bpt:>11.3f} {r.hf_bpt:>9.3f} {r.ratio:>8.3f}"
        )
    return "\n".join(lines)


def test_same_vocabulary_size(rows):
    for r in rows:
        assert r.ours.vocab_size == r.vocab_size
        assert r.hf.get_vocab_size() == r.vocab_size
        assert r.hf.token_to_id(SPECIALS[0]) is not None


def test_compression_within_5_percent_of_hugging_face(rows, record_property):
    table = format_table(rows)
    print("\n" + table)
    record_property("compression_table", table)
    for r in rows:
        record_property(f"{r.corpus}-{r.vocab_size}", f"ours={r.ours_bpt:.3f} hf={r.hf_bpt:.3f}")
        assert r.ours_bpt > 1.5  # both really compress
        assert abs(r.ratio - 1.0) <= 0.05, table
    # a bigger vocabulary compresses better, for both
    by_key = {(r.corpus, r.vocab_size): r for r in rows}
    for corpus in ("site", "shakespeare"):
        assert by_key[corpus, 4096].ours_bpt > by_key[corpus, 1024].ours_bpt
        assert by_key[corpus, 4096].hf_bpt > by_key[corpus, 1024].hf_bpt


def test_most_learned_tokens_are_shared(rows):
    # same algorithm, same pattern: the vocabularies mostly coincide
    for r in rows:
        ours = set(r.ours.ranks)
        hf = {_hf_token_bytes(t) for t in r.hf.get_vocab() if t not in SPECIALS}
        shared = len(ours & hf) / len(ours)
        assert shared > 0.9, (r.corpus, r.vocab_size, shared)


def test_hugging_face_round_trips(rows):
    for r in rows:
        text = r.held_out[:30_000] + " 日本語 😀 tabs\tand\r\nnewlines  "
        assert r.hf.decode(r.hf.encode(text).ids) == text
        assert r.ours.decode(r.ours.encode_ordinary(text)) == text


def _hf_token_bytes(token: str) -> bytes:
    """HF byte-level tokens are spelled with GPT-2's byte-to-character map."""
    from groundup.tokenizer.files import bytes_to_unicode

    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    return bytes(byte_of[c] for c in token)
