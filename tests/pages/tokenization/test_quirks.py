"""The measurement helpers in groundup.pages.tokenization.quirks.measurements and samples, and every claim
docs/tokenization/quirks.md makes about what they measure."""

from __future__ import annotations

import unicodedata

import pytest

from groundup.pages.tokenization.quirks.measurements import (
    language_costs,
    pieces,
    pretokens,
    space_then_letter,
    split_shapes,
    token_counts,
    unseen_tokens,
)
from groundup.pages.tokenization.quirks.samples import (
    UDHR_ARTICLE_1,
    sample,
    script_letters,
    utf8_bytes_per_letter,
)
from groundup.site import site_corpus, site_tokenizer
from groundup.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer

LATIN = {"English", "French", "German", "Spanish"}


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return site_tokenizer()


@pytest.fixture(scope="module")
def tok2() -> BPETokenizer:
    return site_tokenizer(pattern=GPT2_SPLIT_PATTERN)


@pytest.fixture(scope="module")
def train_text() -> str:
    return site_corpus()[0]


# ------------------------------------------------------------------ helpers
def test_pieces_join_to_the_text(tok: BPETokenizer) -> None:
    assert pieces(tok, " implementation") == [" implementation"]
    assert "".join(pieces(tok, "hello world")) == "hello world"
    # a token holding part of a UTF-8 character shows its bytes as escapes
    assert all(p.startswith("\\x") for p in pieces(tok, "Привет"))


def test_pretokens() -> None:
    # the chunks quoted in the prose of section 2
    assert pretokens(GPT4_SPLIT_PATTERN, "1234") == ["123", "4"]
    assert pretokens(GPT4_SPLIT_PATTERN, "12345") == ["123", "45"]
    assert pretokens(GPT4_SPLIT_PATTERN, "1,234") == ["1", ",", "234"]
    assert pretokens(GPT4_SPLIT_PATTERN, "12,345") == ["12", ",", "345"]
    assert pretokens(GPT4_SPLIT_PATTERN, "1234567") == ["123", "456", "7"]
    assert pretokens(GPT2_SPLIT_PATTERN, "1234567") == ["1234567"]
    assert pretokens(GPT4_SPLIT_PATTERN, "1,234,567") == ["1", ",", "234", ",", "567"]


def test_split_shapes_counts_token_lengths(tok: BPETokenizer) -> None:
    shapes = split_shapes(tok, ["2024", "2024", "7"])
    assert sum(shapes.values()) == 3
    assert shapes[tuple(len(tok.token_bytes(i)) for i in tok.encode("2024"))] == 2
    assert all(sum(s) == len(t) for s, t in zip(split_shapes(tok, ["12345"]), ["12345"]))


def test_token_counts_and_unseen(tok: BPETokenizer) -> None:
    text = "print print return"
    counts = token_counts(tok, text)
    assert sum(counts.values()) == len(tok.encode_ordinary(text))
    unseen = unseen_tokens(tok, counts)
    assert tok.encode(" print")[0] not in unseen
    assert all(counts[i] == 0 and len(tok.token_bytes(i)) > 1 for i in unseen)
    lengths = [len(tok.token_bytes(i)) for i in unseen]
    assert lengths == sorted(lengths, reverse=True)


def test_space_then_letter_on_small_text(tok: BPETokenizer) -> None:
    assert space_then_letter(tok, "a return") == (1, 0)
    glued, lone = space_then_letter(tok, "value is ")
    assert lone == 0 and glued >= 1


# ------------------------------------------------------------------ samples
def test_samples_are_complete_and_distinct() -> None:
    assert len(UDHR_ARTICLE_1) == 11
    assert UDHR_ARTICLE_1[0].language == "English"
    assert len({s.language for s in UDHR_ARTICLE_1}) == len(UDHR_ARTICLE_1)
    assert len({s.script for s in UDHR_ARTICLE_1}) == 8
    for s in UDHR_ARTICLE_1:
        assert s.text == unicodedata.normalize("NFC", s.text)
        assert s.text.strip() == s.text and "  " not in s.text
        assert s.text[-1] in ".。।"
    assert sample("Greek").script == "Greek"
    with pytest.raises(KeyError):
        sample("Klingon")


def test_sample_scripts_match_their_letters() -> None:
    expected = {
        "Latin": "LATIN",
        "Cyrillic": "CYRILLIC",
        "Greek": "GREEK",
        "Arabic": "ARABIC",
        "Devanagari": "DEVANAGARI",
        "Han": "CJK UNIFIED",
        "Hangul": "HANGUL",
    }
    for s in UDHR_ARTICLE_1:
        names = {unicodedata.name(ch) for ch in script_letters(s.text)}
        if s.script in expected:
            assert all(n.startswith(expected[s.script]) for n in names), s.language
        else:  # Japanese: kanji and kana
            assert all(n.startswith(("CJK UNIFIED", "HIRAGANA", "KATAKANA")) for n in names)


def test_utf8_bytes_per_letter() -> None:
    assert utf8_bytes_per_letter("abc, def!") == 1.0
    assert utf8_bytes_per_letter("жук") == 2.0
    assert utf8_bytes_per_letter("中文") == 3.0
    by_script = {s.language: utf8_bytes_per_letter(s.text) for s in UDHR_ARTICLE_1}
    assert by_script["English"] == 1.0
    assert all(1.0 < by_script[lang] < 1.1 for lang in LATIN - {"English"})
    assert all(by_script[lang] == 2.0 for lang in ["Russian", "Greek", "Arabic"])
    assert all(by_script[lang] == 3.0 for lang in ["Hindi", "Chinese", "Japanese", "Korean"])
    with pytest.raises(ValueError):
        utf8_bytes_per_letter("123 !")


# --------------------------------------------------- claims on quirks.md, 1
def test_site_tokenizer_is_the_one_described(tok: BPETokenizer) -> None:
    assert tok.vocab_size == 4096 and tok.pattern == GPT4_SPLIT_PATTERN
    assert tok.special_tokens == {"<|endoftext|>": 4095}


def test_letters_section(tok: BPETokenizer) -> None:
    assert len(tok.encode(" implementation")) == 1
    assert len(tok.encode(" documentation")) == 1
    ids = tok.encode(" strawberry")
    assert tok.encode_ordinary("r")[0] not in ids
    assert len([p for p in pieces(tok, " strawberry") if "r" in p]) == 3
    spelled = " ".join("strawberry")
    assert [p.strip() for p in pieces(tok, spelled)] == list("strawberry")


# --------------------------------------------------- claims on quirks.md, 2
def test_numbers_section(tok: BPETokenizer, tok2: BPETokenizer) -> None:
    # GPT-2's pattern splits two neighbouring years differently; GPT-4's cuts after digit 3
    shape = lambda t, s: [len(t.token_bytes(i)) for i in t.encode(s)]  # noqa: E731
    assert any(shape(tok2, str(y)) != shape(tok2, str(y + 1)) for y in range(2020, 2100))
    numbers = [str(n) for n in range(1000, 10000)]

    def crossing(t: BPETokenizer) -> int:
        n_cross = 0
        for n in numbers:
            cuts, pos = set(), 0
            for i in t.encode(n):
                pos += len(t.token_bytes(i))
                cuts.add(pos)
            n_cross += 3 not in cuts
        return n_cross

    assert crossing(tok) == 0 < crossing(tok2)
    assert len(split_shapes(tok2, numbers)) > len(split_shapes(tok, numbers))
    # with commas, the chunks line up with thousands under both patterns
    assert pretokens(GPT4_SPLIT_PATTERN, "12,345") == pretokens(GPT2_SPLIT_PATTERN, "12,345")


# --------------------------------------------------- claims on quirks.md, 3
def test_spaces_section(tok: BPETokenizer, train_text: str) -> None:
    variants = ["return", " return", "Return", " Return", "RETURN"]
    encoded = [tuple(tok.encode(v)) for v in variants]
    assert len(set(encoded)) == len(variants)
    assert len(tok.encode(" return")) == 1
    assert len(tok.encode("RETURN")) > len(tok.encode("Return"))
    assert len(tok.encode("RETURN")) > len(tok.encode(" return"))
    assert pieces(tok, "The default value is ")[-1] == " "
    assert pieces(tok, "The default value is None")[-1] == " None"
    glued, lone = space_then_letter(tok, train_text)
    assert lone * 100 < glued  # "a small fraction"


# --------------------------------------------------- claims on quirks.md, 4
def test_language_section(tok: BPETokenizer, train_text: str) -> None:
    costs = {c.language: c for c in language_costs(tok, UDHR_ARTICLE_1)}
    english = costs["English"]
    english_words = len(UDHR_ARTICLE_1[0].text.split())
    for c in costs.values():
        assert c.tokens_per_english_word == c.tokens / english_words
        assert c.bytes_per_token == c.utf8_bytes / c.tokens
    # English is cheapest; Latin-script languages cost more tokens at about the same bytes
    assert min(costs.values(), key=lambda c: c.tokens) is english
    for lang in LATIN - {"English"}:
        assert costs[lang].tokens > english.tokens
        assert abs(costs[lang].utf8_bytes - english.utf8_bytes) < 0.15 * english.utf8_bytes
    # every non-Latin script: exactly one token per byte, so more than any Latin language
    for lang, c in costs.items():
        if lang not in LATIN:
            assert c.tokens == c.utf8_bytes and c.bytes_per_token == 1.0
            assert c.tokens > max(costs[x].tokens for x in LATIN)
    assert costs["Chinese"].tokens < costs["Hindi"].tokens
    # the training text has almost nothing outside ASCII, and none of the non-Latin scripts
    assert sum(ord(ch) > 127 for ch in train_text) < 1e-4 * len(train_text)
    assert not any(
        0x0370 <= ord(ch) < 0x0530 or ord(ch) >= 0x0600 and ch.isalpha() for ch in train_text
    )


# --------------------------------------------------- claims on quirks.md, 5
def test_unseen_tokens_section(tok: BPETokenizer, train_text: str) -> None:
    counts = token_counts(tok, train_text)
    unseen = unseen_tokens(tok, counts)
    assert unseen
    word_like = next(i for i in unseen if tok.token_bytes(i).decode("utf-8", "ignore").isalpha())
    w = tok.token_bytes(word_like)
    assert tok.encode(w.decode()) == [word_like] and counts[word_like] == 0
    # it exists as a step towards a longer token that was used
    assert any(counts[i] and w in tok.token_bytes(i) and i != word_like for i in tok.ranks.values())
    # the longest unseen tokens are pieces of words
    assert all(tok.token_bytes(i).removeprefix(b" ").isalpha() for i in unseen[:4])
    # the all-letter one is a word's tail: a longer used token ends with it
    assert any(counts[i] and tok.token_bytes(i).endswith(w) for i in tok.ranks.values())
