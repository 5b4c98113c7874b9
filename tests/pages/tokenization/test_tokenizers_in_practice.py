"""The helpers in groundup.pages.tokenization.bpe_inspection, and every claim that
docs/tokenization/bpe-under-the-hood.md and docs/tokenization/tokenizers-in-practice.md
make about the code and what it computes."""

from __future__ import annotations

import html
import json
import random
import statistics
from collections import Counter
from pathlib import Path

import pytest
import regex

from groundup.pages.tokenization.bpe_inspection import (
    explain_split,
    hf_merges,
    hf_token_bytes,
    markdown_code,
    merge_table,
    pair_counts,
    split_alternatives,
    token_count,
    trace_encode_piece,
    truncate,
    visible,
    words_touched,
)
from groundup.pages.tokenization.naive_bpe import merge_pair, train_naive
from groundup.site import site_corpus, site_tokenizer
from groundup.tokenizer import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    BPETokenizer,
    TokenizerFileError,
)
from groundup.tokenizer.encode import bpe_encode_piece
from groundup.tokenizer.files import bytes_to_unicode
from groundup.tokenizer.interop import bytes_per_token, to_tiktoken, train_hf_bpe
from groundup.tokenizer.train import Merge, count_words, merge_word, train_bpe

# The example string of "BPE, under the hood".
EXAMPLE = "I'LL pay $12345.50 for 3 items.\n\n    x.append(don't)\nok  \n"


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return site_tokenizer()


@pytest.fixture(scope="module")
def corpus() -> tuple[str, str]:
    return site_corpus()


@pytest.fixture(scope="module")
def train_words(corpus) -> Counter[bytes]:
    return count_words([corpus[0]], regex.compile(GPT4_SPLIT_PATTERN))


@pytest.fixture(scope="module")
def heldout_words(corpus) -> Counter[bytes]:
    return count_words([corpus[1]], regex.compile(GPT4_SPLIT_PATTERN))


@pytest.fixture(scope="module")
def hf(tok, corpus):
    return train_hf_bpe([corpus[0]], tok.vocab_size, tok.pattern, list(tok.special_tokens))


def random_corpus(seed: int, n: int = 400) -> str:
    rng = random.Random(seed)
    words = [
        "the",
        "then",
        "there",
        "a",
        "an",
        "aaa",
        "ab",
        "ba",
        "x1",
        "12345",
        "don't",
        "I'LL",
        "é",
        "日本",
        "🙂",
        ".",
        ",",
        "  ",
        "\n",
        "\t",
    ]
    return "".join(rng.choice(words) + rng.choice(["", " ", " ", "\n"]) for _ in range(n))


def vocab_of(merges: list[Merge]) -> list[bytes]:
    vocab = [bytes([i]) for i in range(256)]
    for m in merges:
        vocab.append(vocab[m.pair[0]] + vocab[m.pair[1]])
    return vocab


# --------------------------------------------------------------- inspection helpers
def test_visible_marks_whitespace_and_broken_utf8():
    assert visible(b" the\n\t\r") == "␣the↵⇥␍"
    assert visible("é".encode()[:1]) == "\\xc3"
    assert visible(b"\x00") == "\\x00"


def test_markdown_code_escapes_everything_markdown_would_touch():
    raw = "a|b*c_d\\e[f]`<&>$"
    inner = markdown_code(raw).removeprefix("<code>").removesuffix("</code>")
    assert not set(inner) & set("|*_\\[]`<>$")
    assert html.unescape(inner) == raw


def test_split_alternatives_rejoin_to_the_pattern():
    for pattern in (GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN):
        assert "|".join(split_alternatives(pattern)) == pattern
    assert split_alternatives("a|(b|c)|[|]|\\||[]|]") == ["a", "(b|c)", "[|]", "\\|", "[]|]"]
    assert len(split_alternatives(GPT2_SPLIT_PATTERN)) == 12
    assert len(split_alternatives(GPT4_SPLIT_PATTERN)) == 7


@pytest.mark.parametrize("pattern", [GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN])
def test_explain_split_matches_the_real_split(pattern):
    for text in [EXAMPLE, random_corpus(1, 200)]:
        explained = explain_split(pattern, text)
        assert [p for p, _ in explained] == regex.findall(pattern, text)


def test_trace_ends_where_bpe_encode_piece_ends(tok, corpus):
    pieces = sorted(set(regex.findall(GPT4_SPLIT_PATTERN, corpus[1])))[:400]
    pieces += [" tokenization", " ZeroDivisionError", "🙂🙂", "  \n"]
    for piece in pieces:
        b = piece.encode("utf-8")
        states = trace_encode_piece(b, tok.ranks)
        assert states[0] == [b[i : i + 1] for i in range(len(b))]
        assert all(len(s2) == len(s1) - 1 for s1, s2 in zip(states, states[1:]))
        assert all(b"".join(s) == b for s in states)
        assert [tok.ranks[p] for p in states[-1]] == bpe_encode_piece(b, tok.ranks)


def test_words_touched_matches_brute_force():
    text = random_corpus(7, 600)
    wc = count_words([text], regex.compile(GPT4_SPLIT_PATTERN))
    merges = train_bpe(wc, 60)
    words = [list(w) for w in wc]
    expected = []
    for m in merges:
        n = 0
        for k, word in enumerate(words):
            new = merge_word(word, m.pair, m.new_id)
            if new != word:
                n += 1
                words[k] = new
        expected.append(n)
    assert words_touched(wc, merges) == expected


def test_token_count_equals_encoding_length(tok, corpus, heldout_words):
    for k in (0, 100, 1000, len(tok.merges)):
        small = truncate(tok, k)
        assert token_count(heldout_words, small) == len(small.encode_ordinary(corpus[1]))


def test_pair_counts_are_the_trainers_counts():
    text = random_corpus(3, 500)
    wc = count_words([text], regex.compile(GPT4_SPLIT_PATTERN))
    merges = train_bpe(wc, 30)
    vocab = vocab_of(merges)
    for k in (0, 10, 29):
        ranks = {b: i for i, b in enumerate(vocab[: 256 + k])}
        counts = pair_counts(wc, ranks)
        best = max(counts.values())
        assert merges[k].count == best
        assert counts[(vocab[merges[k].pair[0]], vocab[merges[k].pair[1]])] == best


def test_truncate_is_training_to_a_smaller_size(corpus):
    text = corpus[0][:60_000]
    big = BPETokenizer.train(text, 256 + 300, GPT4_SPLIT_PATTERN, ["<|endoftext|>"])
    for k in (0, 1, 50, 299):
        small = BPETokenizer.train(text, 256 + k, GPT4_SPLIT_PATTERN)
        cut = truncate(big, k)
        assert cut.ranks == small.ranks
        assert cut.merges == small.merges
        assert cut.special_tokens == {}
        assert cut.vocab_size == 256 + k
    with pytest.raises(ValueError):
        truncate(big, 301)
    with pytest.raises(ValueError):
        truncate(big, -1)


def test_hf_helpers_read_the_hf_vocabulary(hf):
    merges = hf_merges(hf)
    assert len(merges) == hf.get_vocab_size() - 256 - 1
    b2u = bytes_to_unicode()
    for i in (1, 100, 300, 2000):
        token = hf.id_to_token(i)
        assert hf_token_bytes(hf, i) == bytes({c: b for b, c in b2u.items()}[c] for c in token)
    assert hf_token_bytes(hf, 0) == b"<|endoftext|>"
    with pytest.raises(ValueError):
        hf_token_bytes(hf, 10**6)


# ------------------------------------------------------ "BPE, under the hood": claims
def test_without_pretokenization_tokens_span_boundaries(corpus):
    piece = corpus[0][: corpus[0].rfind("\n", 0, 20_000) + 1]
    raw = train_bpe(count_words([piece], regex.compile(r"[^\n]*\n?")), 100)
    crossing = [
        t
        for t in vocab_of(raw)[256:]
        if len(regex.findall(GPT4_SPLIT_PATTERN, t.decode("utf-8", "replace"))) > 1
    ]
    assert len(crossing) >= 5
    assert b"e " in crossing  # "a letter followed by a space ... becomes a token"


def test_pretokenization_never_lets_a_token_span_a_boundary(tok):
    for token in tok.ranks:
        text = token.decode("utf-8", errors="replace")
        if "\ufffd" not in text:
            assert len(regex.findall(GPT4_SPLIT_PATTERN, text)) == 1


def alt_pieces(pattern: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for piece, k in explain_split(pattern, EXAMPLE):
        out.setdefault(k, []).append(piece)
    return out


def test_gpt2_pattern_claims():
    p = alt_pieces(GPT2_SPLIT_PATTERN)
    pieces = regex.findall(GPT2_SPLIT_PATTERN, EXAMPLE)
    assert pieces[:3] == ["I", "'", "LL"]  # uppercase contraction falls apart
    assert "'t" in p[1] and "don" in p[7]  # don't -> "don" + "'t"
    assert " pay" in p[7] and "12345" in p[8] and " 3" in p[8]
    assert {" $", ".", "("} <= set(p[9])
    assert "\n\n   " in p[10] and " x" in p[7]  # last space left for the next word
    assert p[11] == ["\n"]  # newline right before "ok"
    assert pieces[pieces.index("\n") + 1] == "ok"
    assert regex.findall(GPT2_SPLIT_PATTERN, "\n\n    x") == ["\n\n   ", " x"]


def test_gpt4_pattern_claims():
    p = alt_pieces(GPT4_SPLIT_PATTERN)
    assert p[0] == ["'LL", "'t"]
    assert regex.findall(GPT4_SPLIT_PATTERN, "I'll") == ["I", "'ll"]
    assert ".append" in p[1] and "(don" in p[1]
    assert p[2] == ["123", "45", "50", "3"]
    assert p[6] == [" "]  # the space before 3, on its own
    assert ".\n\n" in p[3] and " $" in p[3]
    assert p[4] == ["  \n"]
    assert set(p) == set(range(7))  # the example exercises every alternative


def test_gpt4_digits_come_in_groups_of_one_to_three_from_the_left():
    rng = random.Random(0)
    for _ in range(300):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
        pieces = regex.findall(GPT4_SPLIT_PATTERN, f"x {digits} y")
        nums = [q for q in pieces if q.isdigit()]
        assert "".join(nums) == digits
        assert all(len(q) == 3 for q in nums[:-1]) and 1 <= len(nums[-1]) <= 3
        assert " " in pieces  # the space never joins the number


def test_tie_break_is_lexicographically_greatest_in_both_trainers():
    # every pair occurs once: ("a","b"), (" ","c"), ("c","d"); greatest is ("c","d")
    naive = train_naive(["ab cd"], 1, GPT4_SPLIT_PATTERN)
    fast = train_bpe(count_words(["ab cd"], regex.compile(GPT4_SPLIT_PATTERN)), 1)
    assert naive == [((ord("c"), ord("d")), 1)]
    assert [(m.pair, m.count) for m in fast] == naive


@pytest.mark.parametrize("seed", range(4))
def test_fast_and_naive_agree_on_random_corpora(seed):
    text = random_corpus(seed)
    naive = train_naive([text], 80, GPT4_SPLIT_PATTERN)
    fast = train_bpe(count_words([text], regex.compile(GPT4_SPLIT_PATTERN)), 80)
    assert [(m.pair, m.count) for m in fast] == naive


def test_fast_and_naive_agree_on_a_slice_of_the_site_corpus(corpus):
    piece = corpus[0][: corpus[0].rfind("\n", 0, 8_000) + 1]
    naive = train_naive([piece], 120, GPT4_SPLIT_PATTERN)
    fast = train_bpe(count_words([piece], regex.compile(GPT4_SPLIT_PATTERN)), 120)
    assert [(m.pair, m.count) for m in fast] == naive


def test_frequency_counting_numbers(corpus, train_words):
    n_pre = len(regex.findall(GPT4_SPLIT_PATTERN, corpus[0]))
    assert sum(train_words.values()) == n_pre
    assert len(train_words) * 10 < n_pre  # "the saving is large"
    assert train_words[b" the"] >= 1000  # "occurs thousands of times"


def test_fast_trainer_on_the_whole_text_is_the_site_tokenizer(tok, train_words):
    assert train_bpe(train_words, len(tok.merges)) == tok.merges


def test_merges_touch_few_words(tok, train_words):
    touched = words_touched(train_words, tok.merges)
    assert statistics.median(touched) <= 40  # "a few dozen words at most"
    assert len(train_words) > 10_000  # "out of the many thousands of distinct ones"
    assert sum(touched) * 100 < len(tok.merges) * len(train_words)
    assert min(touched) >= 1


@pytest.mark.parametrize("seed", range(6))
def test_merge_counts_never_increase(seed):
    text = random_corpus(seed, 800)
    merges = train_bpe(count_words([text], regex.compile(GPT4_SPLIT_PATTERN)), 150)
    assert all(a.count >= b.count for a, b in zip(merges, merges[1:]))


def test_site_merge_counts_never_increase_and_end_small(tok):
    counts = [m.count for m in tok.merges]
    assert all(a >= b for a, b in zip(counts, counts[1:]))
    assert counts[-1] < 100  # "seen only a few dozen times in millions of bytes"
    assert len(site_corpus()[0]) > 1_000_000
    assert counts[0] > 10_000 * counts[-1]


def test_encoding_example_and_cache(tok, corpus):
    assert " tokenizers" not in corpus[0]
    ids = bpe_encode_piece(b" tokenizers", tok.ranks)
    assert len(ids) > 1 and tok.decode(ids) == " tokenizers"
    # the id of a merged token is its position in the merge order
    assert all(
        tok.ranks[tok.token_bytes(m.new_id)] == m.new_id == 256 + k
        for k, m in enumerate(tok.merges)
    )
    # encode_ordinary is bpe_encode_piece on each pre-token, and the cache changes nothing
    pieces = regex.findall(tok.pattern, corpus[1])
    expected = [i for p in pieces for i in bpe_encode_piece(p.encode("utf-8"), tok.ranks)]
    fresh = BPETokenizer(tok.ranks, tok.pattern, tok.special_tokens)
    assert fresh.encode_ordinary(corpus[1]) == expected
    assert fresh.encode_ordinary(corpus[1]) == expected  # second call: all cache hits
    assert len(set(pieces)) < len(pieces) / 2


@pytest.mark.parametrize("seed", range(5))
def test_merge_word_is_merge_pair(seed):
    rng = random.Random(seed)
    for _ in range(200):
        word = [rng.randrange(4) for _ in range(rng.randrange(12))]
        pair = (rng.randrange(4), rng.randrange(4))  # (a, a) included: overlaps
        assert merge_word(word, pair, 9) == merge_pair(word, pair, 9)


def test_streaming_claims(tok, corpus):
    text = corpus[1]
    whole = tok.encode_ordinary(text)
    lines = text.splitlines(keepends=True)
    chunks = [text[i : i + 1000] for i in range(0, len(text), 1000)]
    for parts in (lines, chunks):
        assert "".join(parts) == text
        assert [i for part in parts for i in tok.encode_ordinary(part)] != whole
        assert list(tok.encode_iterable(parts)) == whole
    # a full stop, its newline and an empty line: one pre-token, which lines cut in two
    assert ".\n\n" in regex.findall(tok.pattern, text)
    assert regex.findall(tok.pattern, "x.\n") + regex.findall(tok.pattern, "\n") == [
        "x",
        ".\n",
        "\n",
    ]


# -------------------------------------------------- "Tokenizers in practice": claims
def test_site_tokenizer_layout(tok):
    assert tok.vocab_size == 256 + len(tok.merges) + 1
    assert tok.special_tokens == {"<|endoftext|>": tok.vocab_size - 1}
    assert tok.pattern == GPT4_SPLIT_PATTERN
    assert [tok.token_bytes(i) for i in range(256)] == [bytes([i]) for i in range(256)]


def test_vocabulary_claims(tok, corpus):
    table = merge_table(tok)
    assert all(set(left + right) == {ord(" ")} for left, right, _ in table[:4])  # runs of spaces
    assert tok.ranks[b" the"] < 256 + 50  # a whole word soon after
    longest = sorted(tok.ranks, key=lambda b: (-len(b), tok.ranks[b]))[:6]
    assert all(set(t) <= set(b" \n") and len(t) > 30 for t in longest[:4])  # indentation
    assert any(set(t) <= set(b" -=") and b"-" * 20 in t for t in longest)  # a border
    wordlike = sorted(
        (b for b in tok.ranks if b.removeprefix(b" ").isalpha()), key=len, reverse=True
    )
    # "the longest are Python's exception names and long English words"
    assert any(b.endswith(b"Error") for b in wordlike[:8])
    assert any(b.islower() for b in wordlike[:8])
    # scaffolding: a half of a word-like token is never produced on its own
    used = set(tok.encode_ordinary(corpus[0]))
    halves = [h for b in wordlike for h in tok.merges[tok.ranks[b] - 256].pair]
    assert any(h >= 256 and h not in used for h in halves)


def test_compression_claims(tok, corpus, train_words, heldout_words):
    n_train, n_held = (len(t.encode("utf-8")) for t in corpus)
    assert bytes_per_token(n_held, len(tok.encode_ordinary(corpus[1]))) == pytest.approx(
        bytes_per_token(n_held, token_count(heldout_words, tok))
    )
    at = {}
    for v in (256, 384, 512, 768, 1024, 1536, 2048, 3072, 256 + len(tok.merges)):
        small = truncate(tok, v - 256)
        at[v] = (
            bytes_per_token(n_held, token_count(heldout_words, small)),
            bytes_per_token(n_train, token_count(train_words, small)),
        )
    assert at[256] == (1.0, 1.0)
    sizes = sorted(at)
    assert all(at[a][0] < at[b][0] for a, b in zip(sizes, sizes[1:]))
    gains = [
        at[b][0] / at[a][0] for a, b in [(256, 512), (512, 1024), (1024, 2048), (2048, sizes[-1])]
    ]
    assert all(g1 > g2 > 1 for g1, g2 in zip(gains, gains[1:]))  # diminishing returns
    gap = [at[v][1] - at[v][0] for v in sizes]
    assert all(g > 0 for g in gap[1:])  # the training text compresses better at every size
    assert gap[-1] > 2 * gap[1] and gap[-1] == max(gap)  # and the gap grows


def test_tiktoken_gives_our_ids_on_the_page_samples(tok, corpus):
    enc = to_tiktoken(tok)
    samples = [
        corpus[1],
        "def f(x):\n    return x ** 2  # square\n",
        "Pi is 3.14159265, and 2**64 = 18446744073709551616.",
        "Größe, naïve café, 東京, Привет, 🙂!",
        "first document<|endoftext|>second document",
    ]
    for text in samples:
        assert enc.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert enc.n_vocab == tok.vocab_size


def test_hf_first_divergence_is_a_tie(tok, hf, corpus, train_words):
    ours = [(a, b) for a, b, _ in merge_table(tok)]
    theirs = hf_merges(hf)
    k = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    assert k > 10  # "their first merges agree"
    counts = pair_counts(train_words, truncate(tok, k).ranks)
    top = max(counts.values())
    assert counts[ours[k]] == counts[theirs[k]] == top == tok.merges[k].count
    tied = [p for p, c in counts.items() if c == top]
    assert ours[k] == max(tied)  # ours: lexicographically greatest
    # about equal compression: within 3% on held-out text
    held = len(corpus[1].encode("utf-8"))
    ours_bpt = bytes_per_token(held, len(tok.encode_ordinary(corpus[1])))
    hf_bpt = bytes_per_token(held, len(hf.encode(corpus[1]).ids))
    assert abs(ours_bpt / hf_bpt - 1) < 0.03
    shared = set(tok.ranks) & {a + b for a, b in theirs}
    assert len(shared) > 0.8 * len(tok.merges)  # "mostly the same strings"
    assert len(shared) < len(tok.merges)


def test_save_and_load_claims(tok, corpus, tmp_path: Path):
    path = tmp_path / "t.json"
    tok.save(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    head = json.loads("\n".join(lines[:8]).rstrip(",") + "}")  # the header lines
    assert head["format"] == "groundup-bpe" and head["pattern"] == tok.pattern
    assert lines[9].strip() == '[0, "00", "\\u0000"],'
    assert len(lines) == len(tok.ranks) + 12
    assert lines[-2].startswith('  "merges": [[32, 32, ')
    loaded = BPETokenizer.load(path)
    assert loaded.encode_ordinary(corpus[1]) == tok.encode_ordinary(corpus[1])
    assert loaded.merges == tok.merges
    assert '"2074"' in text
    path.write_text(text.replace('"2074"', '"2075"', 1), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="checksum"):
        BPETokenizer.load(path)


def test_gpt2_byte_characters(tok, hf):
    char = bytes_to_unicode()
    assert sorted(char) == list(range(256)) and len(set(char.values())) == 256  # a bijection
    assert all(c.isprintable() and not c.isspace() for c in char.values())
    kept = [b for b, c in char.items() if chr(b) == c]
    assert len(kept) == 188
    moved = [b for b in range(256) if b not in kept]
    assert moved == [*range(33), *range(127, 161), 173]  # controls, space, NBSP, soft hyphen
    assert [ord(char[b]) for b in moved] == list(range(256, 256 + len(moved)))  # in order
    assert (char[ord(" ")], char[ord("\n")]) == ("Ġ", "Ċ")
    for b in (b" ", b"\n", b" the", b":\n"):  # the page's examples are in both vocabularies
        assert hf.token_to_id("".join(char[x] for x in b)) is not None
        assert b in tok.ranks


def test_mixing_tokenizers_claims(tok, hf):
    sentence = "The tokenizer and the model must agree."
    ours = tok.encode(sentence)
    theirs = hf.encode(sentence).ids
    assert all(i < tok.vocab_size for i in theirs)  # every id in range
    assert hf.decode(ours) != sentence and tok.decode(theirs) != sentence
    assert hf.token_to_id("<|endoftext|>") == 0
    # HF orders the single bytes by their printable stand-in characters
    b2u = bytes_to_unicode()
    hf_byte_ids = {b: hf.token_to_id(b2u[b]) for b in range(256)}
    assert sorted(range(256), key=hf_byte_ids.__getitem__) == sorted(
        range(256), key=b2u.__getitem__
    )
    assert hf.token_to_id(b2u[ord(" ")] + "the") == tok.ranks[b" the"] + 1
    small = truncate(tok, 1024)
    assert all(tok.token_bytes(i) == small.token_bytes(i) for i in range(small.vocab_size))
    assert small.encode(sentence) != ours
    assert max(ours) >= small.vocab_size == 1280


# ------------------------------------------------- the page's cached measurements


def test_cached_measurements_equal_the_direct_ones(tmp_path, monkeypatch) -> None:
    from groundup.pages.tokenization.tokenizers_in_practice import (
        compression_curve,
        hf_token_counts,
        retrained_is_truncated,
        site_hf_bpe,
    )
    from groundup.tokenizer.interop import bytes_per_token, train_hf_bpe
    from groundup.tokenizer.train import count_words

    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    train, heldout = site_corpus()[0][:40_000], site_corpus()[1][:8_000]
    tok = BPETokenizer.train(train, 256 + 60, GPT4_SPLIT_PATTERN, {"<|endoftext|>": 316})
    split = regex.compile(tok.pattern)
    sizes = [256, 280, 256 + len(tok.merges)]
    for _ in range(2):  # computed, then read from the cache folder
        curve = compression_curve(tok, train, heldout, sizes)
        assert curve == [
            (
                v,
                bytes_per_token(
                    len(heldout.encode()),
                    token_count(count_words([heldout], split), truncate(tok, v - 256)),
                ),
                bytes_per_token(
                    len(train.encode()),
                    token_count(count_words([train], split), truncate(tok, v - 256)),
                ),
            )
            for v in sizes
        ]
        assert retrained_is_truncated(tok, train, 30) is True
        hf = site_hf_bpe(tok, train)
        direct = train_hf_bpe([train], tok.vocab_size, tok.pattern, ["<|endoftext|>"])
        assert hf.to_str() == direct.to_str()
        assert hf_token_counts(hf, [heldout, train]) == [
            len(direct.encode(heldout).ids),
            len(direct.encode(train).ids),
        ]
    names = sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.iterdir())
    assert names == ["compression-curve", "hf-bpe", "hf-token-counts", "retrained-is-truncated"]


def test_trainer_times_are_measured_once_and_agree(tmp_path, monkeypatch) -> None:
    from groundup.pages.tokenization.bpe_under_the_hood import time_trainers

    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    train = site_corpus()[0][:30_000]
    tok = BPETokenizer.train(train, 256 + 80, GPT4_SPLIT_PATTERN)
    first = time_trainers(train[:5_000], train, 20, tok, repeats=2)
    assert first.same_merges and first.same_as_site
    assert all(
        isinstance(s, float) for s in (first.naive_seconds, first.fast_seconds, first.full_seconds)
    )
    assert time_trainers(train[:5_000], train, 20, tok, repeats=2) == first  # read back
    other = BPETokenizer.train(train[:10_000], 256 + 80, GPT4_SPLIT_PATTERN)
    assert not time_trainers(train[:5_000], train, 20, other, repeats=2).same_as_site


def test_cached_words_touched_equals_the_direct_count(tmp_path, monkeypatch) -> None:
    from groundup.pages.tokenization.bpe_under_the_hood import cached_words_touched
    from groundup.tokenizer.train import count_words

    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path))
    train = site_corpus()[0][:20_000]
    tok = BPETokenizer.train(train, 256 + 50, GPT4_SPLIT_PATTERN)
    direct = words_touched(count_words([train], regex.compile(tok.pattern)), tok.merges)
    assert cached_words_touched(train, tok) == direct
    assert cached_words_touched(train, tok) == direct  # read from the file
    assert len(list(tmp_path.glob("words-touched-*.json"))) == 1
