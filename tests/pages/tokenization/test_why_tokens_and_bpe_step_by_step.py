"""Tests for the chapter's opening pages: "Why models need tokens" and "BPE, step by step".

Covers the helpers those pages compute with (`groundup.pages.tokenization.bpe_step_by_step`,
`groundup.pages.tokenization.why_tokens.granularity`, `groundup.pages.tokenization.why_tokens.alternatives`) and the
specific claims the pages' prose makes about their output.
"""

from __future__ import annotations

from collections import Counter

import pytest
import regex

from groundup.pages.tokenization.bpe_inspection import trace_encode_piece, truncate
from groundup.pages.tokenization.bpe_step_by_step import merge_savings, trace_train
from groundup.pages.tokenization.naive_bpe import train_naive
from groundup.pages.tokenization.why_tokens.alternatives import cached_hf, pieces
from groundup.pages.tokenization.why_tokens.granularity import (
    byte_units,
    char_units,
    oov_rate,
    word_units,
    word_vocab,
)
from groundup.site import site_corpus, site_tokenizer
from groundup.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer, Merge
from groundup.tokenizer.train import count_words

TOY = "low lower lowest slow slower slowest"  # the text of "BPE, step by step"


@pytest.fixture(scope="module")
def corpus() -> tuple[str, str]:
    return site_corpus()


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return site_tokenizer()


@pytest.fixture(scope="module")
def toy_trace():
    return trace_train(TOY, num_merges=100)


# --------------------------------------------------------------------- trace


def test_trace_matches_naive_trainer_on_toy(toy_trace) -> None:
    naive = train_naive([TOY], 100, GPT4_SPLIT_PATTERN)
    assert [(s.pair, s.count) for s in toy_trace.steps] == naive


@pytest.mark.parametrize("pattern", [GPT4_SPLIT_PATTERN, GPT2_SPLIT_PATTERN], ids=["gpt4", "gpt2"])
def test_trace_matches_naive_and_fast_trainers_on_real_text(corpus, pattern) -> None:
    text = corpus[0][:4000]
    trace = trace_train(text, 60, pattern)
    steps = [(s.pair, s.count) for s in trace.steps]
    assert steps == train_naive([text], 60, pattern)
    fast = BPETokenizer.train(text, 256 + 60, pattern)
    assert steps == [(m.pair, m.count) for m in fast.merges]


def test_trace_records_ranked_counts_and_chunks(toy_trace) -> None:
    chunks = toy_trace.initial
    for s in toy_trace.steps:
        counts = dict(s.pair_counts)
        # recount independently from the previous chunks
        expected: dict[tuple[int, int], int] = {}
        for c in chunks:
            for p in zip(c, c[1:]):
                expected[p] = expected.get(p, 0) + 1
        assert counts == expected
        assert s.pair_counts[0] == (s.pair, s.count)
        keys = [(c, toy_trace.vocab[p[0]], toy_trace.vocab[p[1]]) for p, c in s.pair_counts]
        assert keys == sorted(keys, reverse=True)
        assert toy_trace.vocab[s.new_id] == toy_trace.vocab[s.pair[0]] + toy_trace.vocab[s.pair[1]]
        chunks = s.chunks
    assert b"".join(toy_trace.vocab[i] for c in chunks for i in c) == TOY.encode()


def test_trace_length_and_stop(toy_trace) -> None:
    pre = regex.findall(GPT4_SPLIT_PATTERN, TOY)
    assert toy_trace.length(0) == len(TOY.encode())
    n = len(toy_trace.steps)
    assert n < 100  # stopped on its own
    assert toy_trace.length(n) == len(pre)  # one token per pre-token
    assert all(len(c) == 1 for c in toy_trace.steps[-1].chunks)


def test_toy_run_claims(toy_trace) -> None:
    """The prose of "BPE, step by step" about the toy run."""
    v, steps = toy_trace.vocab, toy_trace.steps
    first = steps[0]
    top = [p for p, c in first.pair_counts if c == first.count]
    assert [(v[a], v[b]) for a, b in top] == [(b"o", b"w"), (b"l", b"o")]  # a tie, o > l
    assert first.count == 6 and first.new_id == 256
    assert [v[s.new_id] for s in steps[:3]] == [b"ow", b"low", b"lowe"]
    # step 3 makes "lowe", contained in 4 of the 6 pre-tokens
    pre = regex.findall(GPT4_SPLIT_PATTERN, TOY)
    assert sum(b"lowe" in p.encode() for p in pre) == 4 and len(pre) == 6
    # all merged pairs have different halves, so each drop equals the count
    assert all(s.pair[0] != s.pair[1] for s in steps)
    drops = [toy_trace.length(k) - toy_trace.length(k + 1) for k in range(len(steps))]
    assert drops == [s.count for s in steps]
    # counts reach 1 and stay there (memorising whole pre-tokens)
    ones = next(k for k, s in enumerate(steps) if s.count == 1)
    assert all(s.count == 1 for s in steps[ones:])
    assert all(s.count >= 2 for s in steps[:ones])


def test_merge_savings_on_runs() -> None:
    a = ord("a")
    merge = Merge((a, a), 256, 4)
    # "aaaaa": 4 overlapping pairs, but only 2 merges fit: aa aa a
    assert merge_savings({b"aaaaa": 3}, [merge]) == [6]
    assert merge_savings({b"ab": 1}, [Merge((a, ord("b")), 256, 1)]) == [1]


def test_merge_savings_replays_training(corpus) -> None:
    text = corpus[0][:5_000]
    tok = BPETokenizer.train(text, 256 + 100)
    words = count_words([text], regex.compile(tok.pattern))
    savings = merge_savings(words, tok.merges)
    for m, s in zip(tok.merges, savings):
        if m.pair[0] != m.pair[1]:
            assert s == m.count
        else:
            assert 0 < s <= m.count
    assert any(s < m.count for m, s in zip(tok.merges, savings))  # runs of spaces exist
    # independent replay with the traced naive loop gives the same final length
    trace = trace_train(text, 100)
    assert len(text.encode()) - sum(savings) == trace.length(len(trace.steps))


def test_site_savings_claims(corpus, tok) -> None:
    train_text = corpus[0]
    words = count_words([train_text], regex.compile(tok.pattern))
    savings = merge_savings(words, tok.merges)
    assert len(train_text.encode()) - sum(savings) == len(tok.encode_ordinary(train_text))
    first = tok.merges[0]
    assert first.pair == (32, 32) and savings[0] < first.count


# -------------------------------------------------------------- granularity


def test_units_and_oov() -> None:
    text = "naïve  café\nok"
    assert byte_units(text) == list(text.encode("utf-8"))
    assert len(byte_units(text)) > len(char_units(text)) == len(text)
    assert word_units(text) == ["naïve", "café", "ok"]
    assert word_vocab(["a", "b", "a", "c", "a", "b"], 2) == {"a", "b"}
    assert word_vocab(["a", "b"]) == {"a", "b"}
    # the page's plot takes prefixes of one ranking instead of counting again per size
    words = ["x", "y", "z", "y", "w", "z", "v", "x", "u"]  # ties in both counts
    ranked = [w for w, _ in Counter(words).most_common()]
    assert all(set(ranked[:k]) == word_vocab(words, k) for k in range(len(ranked) + 1))
    assert oov_rate({"a"}, ["a", "b", "a", "c"]) == 0.5
    with pytest.raises(ValueError):
        oov_rate({"a"}, [])


def test_why_tokens_claims(corpus, tok) -> None:
    train_text, heldout = corpus
    held_words = word_units(heldout)
    assert oov_rate(word_vocab(word_units(train_text)), held_words) > 0.10
    letters = regex.findall(r"\w+", heldout)
    assert oov_rate(word_vocab(regex.findall(r"\w+", train_text)), letters) > 0.01
    ids = tok.encode_ordinary(heldout)
    assert tok.decode(ids) == heldout
    assert len(held_words) < len(ids) < len(char_units(heldout)) <= len(byte_units(heldout))
    for text in ["Tokenizers turn text into integers.", "naïve café ☕", "x = {'a': [1, 2]}"]:
        assert tok.decode(tok.encode(text)) == text
    for word in (" text", " into", "ing", "ization", " re", " subclass"):
        assert tok.encode(word) == [tok.ranks[word.encode()]]
    assert "Tokenizers" not in train_text
    assert len(tok.encode("Tokenizers")) > 1
    assert [tok.token_bytes(i) for i in tok.encode(" subclassing")] == [b" subclass", b"ing"]


def test_bpe_curve_claims(corpus) -> None:
    train_text, heldout = corpus
    full = site_tokenizer(vocab_size=20_000)
    # either training ran out of pairs (every training pre-token is one token), or it
    # learned every merge asked for; the page says which
    words = count_words([train_text], regex.compile(full.pattern))
    ran_out = all(full.encode_ordinary(w.decode()) == [full.ranks.get(w)] for w in words)
    assert ran_out or 256 + len(full.merges) + len(full.special_tokens) == 20_000
    # V = 256 is the byte-level tokenizer
    assert truncate(full, 0).encode_ordinary(heldout) == byte_units(heldout)
    # pre-tokens are a floor
    floor = len(regex.findall(full.pattern, heldout))
    assert len(full.encode_ordinary(heldout)) >= floor
    lengths = [len(truncate(full, k).encode_ordinary(heldout)) for k in (0, 256, 1024, 4096)]
    assert lengths == sorted(lengths, reverse=True)


def test_truncate_is_a_shorter_training_run(corpus) -> None:
    text = corpus[0][:30_000]
    long = BPETokenizer.train(text, 256 + 200)
    short = BPETokenizer.train(text, 256 + 80)
    assert truncate(long, 80).ranks == short.ranks


# --------------------------------------------------------------- alternatives


def test_alternatives_on_site_corpus(corpus) -> None:
    train_text = corpus[0]
    first_quarter = train_text[: len(train_text) // 4]  # what the page trains them on
    wordpiece = cached_hf("wordpiece", [first_quarter], 4096)
    unigram = cached_hf("unigram", [first_quarter], 4096)
    assert "ř" not in train_text and "🙂" not in train_text
    assert pieces(wordpiece, "Dvořák") == ["[UNK]"]
    ug = pieces(unigram, "Dvořák")
    # Unigram loses only the characters it never saw (adjacent ones become one <unk>)
    seen = "".join(c for c in "Dvořák" if c in first_quarter)
    assert ug.count("<unk>") == 1 and "".join(p for p in ug if p != "<unk>").lstrip("▁") == seen
    assert "<unk>" in pieces(unigram, "🙂")
    # WordPiece marks word-internal pieces with ##
    wp = pieces(wordpiece, "reinitialized")
    assert len(wp) > 1 and not wp[0].startswith("##")
    assert all(p.startswith("##") for p in wp[1:])
    assert wp[0] + "".join(p[2:] for p in wp[1:]) == "reinitialized"


def test_cached_hf_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    text = ["the lower the slower, the lowest the slowest " * 20]
    first = cached_hf("wordpiece", text, 120)
    assert len(list(tmp_path.glob("hf-wordpiece-*.json"))) == 1
    again = cached_hf("wordpiece", text, 120)  # loaded from the file
    assert pieces(again, "slowest lower") == pieces(first, "slowest lower")
    with pytest.raises(ValueError):
        cached_hf("bpe", text, 120)


# ---------------------------------------------------------- encoding claims


def test_step_by_step_encoding_claims(toy_trace) -> None:
    tok = BPETokenizer.train(TOY, 256 + len(toy_trace.steps))
    assert [(m.pair, m.count) for m in tok.merges] == [(s.pair, s.count) for s in toy_trace.steps]

    def parts(text: str) -> list[bytes]:
        return [tok.token_bytes(i) for i in tok.encode(text)]

    states = trace_encode_piece(b" slowly", tok.ranks)
    assert " slowly" not in TOY
    assert states[-1] == [b" slow", b"l", b"y"] == parts(" slowly")
    assert parts(" slowest") == [b" slowest"]
    assert parts(" flowers") == [b" ", b"f", b"lower", b"s"]
    assert b"lower" in parts(" blower")
    assert not any(p.startswith(b" s") for p in parts("slowness"))
    assert parts(" LOW") == [b" ", b"L", b"O", b"W"]


def test_truncated_lengths_equal_the_direct_encodings(corpus, tmp_path, monkeypatch) -> None:
    from groundup.pages.tokenization.why_tokens.granularity import truncated_lengths

    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    text = corpus[0][:20_000]
    tok = BPETokenizer.train(text, 256 + 40)
    sizes = [256, 270, 296]
    direct = [len(truncate(tok, v - 256).encode_ordinary(text[:5_000])) for v in sizes]
    assert truncated_lengths(tok, text[:5_000], sizes) == direct
    assert truncated_lengths(tok, text[:5_000], sizes) == direct  # read from the file
    assert len(list(tmp_path.glob("truncated-lengths-*.json"))) == 1
