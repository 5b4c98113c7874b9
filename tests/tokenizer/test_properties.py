"""Property tests (hypothesis) for the tokenizer.

(a) the fast trainer learns exactly the naive trainer's merges;
(b) decode(encode(s)) == s for any text;
(c) streaming with `encode_iterable` equals encoding the joined text;
(d) lone surrogates are replaced exactly as tiktoken replaces them.
"""

from __future__ import annotations

import itertools

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from groundup.pages.tokenization.naive_bpe import train_naive
from groundup.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer, load_gpt2_files
from groundup.tokenizer.interop import to_tiktoken
from groundup.tokenizer.train import count_words, train_bpe

PATTERNS = pytest.mark.parametrize(
    "pattern", [GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN], ids=["gpt2", "gpt4"]
)
EOT = "<|endoftext|>"

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ----------------------------------------------------------------------------- strategies
# Small alphabets make many equal pair counts (ties) and repeated characters.
TIE_ALPHABETS = [
    "a",
    "ab",
    "ab ",
    "abc d",
    "aab \n",
    "xy'sd ",
    " \t\n\r",
    "é中😀a ",
    "aé ñ\u0301",
    "12 3.,",
    "Ωωαβ ab",
    "日本語 にほん",
]

FRAGMENTS = [
    # emoji: ZWJ family, skin tones, flags, keycaps, variation selectors
    "👨\u200d👩\u200d👧\u200d👦",
    "👍🏽",
    "👩🏿\u200d🚀",
    "🇯🇵",
    "🏳️\u200d🌈",
    "1️⃣",
    "❤️",
    "😀",
    # CJK and other scripts
    "漢字",
    "かなカナ",
    "한국어",
    "中文测试",
    "Ελληνικά",
    "Кириллица",
    "עברית",
    "العربية",
    "हिन्दी",
    "ไทย",
    # combining marks
    "e\u0301",
    "a\u0308\u0323",
    "n\u0303",
    "\u0301",
    "Z\u0351\u0352\u0353",
    # whitespace runs
    "   ",
    "\t\t",
    "\r\n",
    "\n\n\n",
    " \n ",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\x0b\x0c",
    "        \n",
    # special-token look-alikes
    "<|endoftext|",
    "<|endoftext|>",
    "< |endoftext| >",
    "<|",
    "|>",
    "endoftext",
    "<||>",
    "<|endoftext|>>",
    # contractions, numbers, punctuation
    "'s",
    "'ll",
    "'VE",
    "don't",
    " 12345",
    "3.14159",
    "...",
    "!?",
    "$",
    "ab",
    " the",
]

mixed_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=30).map(
    "".join
)


@st.composite
def small_corpus(draw) -> list[str]:
    """A few short texts over one small alphabet, or over arbitrary characters."""
    alphabet = draw(st.one_of(st.sampled_from(TIE_ALPHABETS), st.none()))
    if alphabet is None:
        text = st.text(max_size=40)
    else:
        text = st.text(alphabet=alphabet, max_size=40)
    texts = draw(st.lists(text, min_size=1, max_size=6))
    if draw(st.booleans()):  # repeat the corpus so counts are larger, still tied
        texts = texts * draw(st.integers(2, 4))
    return texts


@st.composite
def text_and_cuts(draw, text_strategy) -> tuple[str, list[str]]:
    text = draw(text_strategy)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


# ----------------------------------------------------------------------------- tokenizers
SEED_TEXT = (
    "The quick brown fox jumps over the lazy dog. It's 3.14, isn't it? We'll see.\n"
    "  indented line\twith tab\r\nwindows line\n\n\n"
    "Ünïcödé wörds, 日本語のテキスト, 中文, 한국어, Ελληνικά, русский, עברית, العربية.\n"
    "Emoji 😀👍🏽👨‍👩‍👧 and more ❤️. def f(x): return x ** 2  # code\n"
) * 20


@pytest.fixture(scope="module")
def trained() -> dict[str, BPETokenizer]:
    return {
        name: BPETokenizer.train(SEED_TEXT, 600, pattern, special_tokens=[EOT])
        for name, pattern in (("gpt2", GPT2_SPLIT_PATTERN), ("gpt4", GPT4_SPLIT_PATTERN))
    }


@pytest.fixture(scope="module")
def gpt2(shared_data) -> BPETokenizer:
    return load_gpt2_files(
        shared_data / "gpt2" / "encoder.json", shared_data / "gpt2" / "vocab.bpe"
    )


def all_strings_tokenizer(pattern: str, alphabet: str, max_len: int) -> BPETokenizer:
    """Ranks holding every string over `alphabet` up to `max_len` characters.

    Every pre-token that short becomes exactly one token with its own id, so the
    ids reveal exactly where the pattern cut the text: a streaming encoder that
    cut differently would give different ids.
    """
    ranks = {bytes([i]): i for i in range(256)}
    for n in range(2, max_len + 1):
        for chars in itertools.product(alphabet, repeat=n):
            ranks.setdefault("".join(chars).encode(), len(ranks))
    return BPETokenizer(ranks, pattern)


PIECE_ALPHABET = " \n\r'lsa1"
piece_text = st.one_of(
    st.text(alphabet=PIECE_ALPHABET, max_size=60),
    st.lists(st.sampled_from([*PIECE_ALPHABET, "'ll", "'s", "  ", " \n", "\r\n"]), max_size=30).map(
        "".join
    ),
)


@pytest.fixture(scope="module")
def revealing() -> dict[str, BPETokenizer]:
    return {
        "gpt2": all_strings_tokenizer(GPT2_SPLIT_PATTERN, PIECE_ALPHABET, 5),
        "gpt4": all_strings_tokenizer(GPT4_SPLIT_PATTERN, PIECE_ALPHABET, 5),
    }


def test_revealing_tokenizer_shows_the_pre_token_split(revealing):
    for name, pattern in (("gpt2", GPT2_SPLIT_PATTERN), ("gpt4", GPT4_SPLIT_PATTERN)):
        tok = revealing[name]
        text = "a'll  \n\n sa1 \r\n l"
        pieces = regex.findall(pattern, text)
        assert tok.encode_ordinary(text) == [tok.ranks[p.encode()] for p in pieces]


# ----------------------------------------------------------------------------- (a) trainers
@PATTERNS
@SETTINGS
@given(texts=small_corpus(), num_merges=st.integers(0, 50))
@example(texts=["aaaa"], num_merges=5)
@example(texts=["ab cd " * 10], num_merges=10)
@example(texts=["aaaaaaaa", "aaa", "aa"], num_merges=10)
@example(texts=["abcabcab", "bcab", "ca"] * 3, num_merges=20)
def test_fast_trainer_equals_naive_trainer(pattern, texts, num_merges):
    naive = train_naive(texts, num_merges, pattern)
    fast = train_bpe(count_words(texts, regex.compile(pattern)), num_merges)
    assert [(m.pair, m.count) for m in fast] == naive
    assert [m.new_id for m in fast] == list(range(256, 256 + len(fast)))
    if any(texts):
        tok = BPETokenizer.train(texts, 256 + num_merges, pattern)
        assert [(m.pair, m.count) for m in tok.merges] == naive


@PATTERNS
@settings(max_examples=25, deadline=None)
@given(
    start=st.integers(0, 1_000_000), length=st.integers(200, 3000), num_merges=st.integers(20, 120)
)
def test_fast_trainer_equals_naive_on_shakespeare_slices(
    pattern, shakespeare, start, length, num_merges
):
    start %= len(shakespeare) - length
    texts = [shakespeare[start : start + length]]
    naive = train_naive(texts, num_merges, pattern)
    fast = train_bpe(count_words(texts, regex.compile(pattern)), num_merges)
    assert [(m.pair, m.count) for m in fast] == naive


# ----------------------------------------------------------------------------- (b) round trip
@SETTINGS
@given(text=st.text(max_size=300))
def test_round_trip_arbitrary_text(trained, gpt2, text):
    for tok in (*trained.values(), gpt2):
        ids = tok.encode_ordinary(text)
        assert tok.decode(ids) == text
        assert tok.decode_bytes(ids) == text.encode("utf-8")
        assert all(0 <= i < tok.vocab_size for i in ids)
        if EOT not in text:
            assert tok.encode(text) == ids


@SETTINGS
@given(text=mixed_text)
@example(text="👨\u200d👩\u200d👧\u200d👦 👍🏽 e\u0301 \r\n\r\n\t\t  <|endoftext|  < |endoftext| >")
def test_round_trip_emoji_cjk_marks_whitespace_and_lookalikes(trained, gpt2, text):
    for tok in (*trained.values(), gpt2):
        ordinary = tok.encode_ordinary(text)
        assert tok.decode(ordinary) == text
        assert tok.encode(text, allowed_special="none") == ordinary
        if EOT in text:
            with pytest.raises(ValueError, match="endoftext"):
                tok.encode(text)
            ids = tok.encode(text, allowed_special="all")
            assert ids.count(tok.special_tokens[EOT]) == text.count(EOT)
            assert tok.special_tokens[EOT] not in ordinary
        else:
            ids = tok.encode(text)
            assert ids == ordinary
        assert tok.decode(ids) == text


@SETTINGS
@given(
    ws=st.text(alphabet=" \t\r\n\u00a0\u3000\u2009\x0b\x0c\u2028\u0085", min_size=1, max_size=60),
    word=st.sampled_from(["x", "word", "日本", "😀", "12", "!"]),
)
def test_round_trip_long_whitespace_runs(trained, gpt2, ws, word):
    text = word + ws + word + ws * 3 + word + ws
    for tok in (*trained.values(), gpt2):
        assert tok.decode(tok.encode(text)) == text


# ----------------------------------------------------------------------------- (c) streaming
@PATTERNS
@SETTINGS
@given(data=text_and_cuts(piece_text))
@example(data=("x'll", ["x'l", "l"]))
@example(data=(" \n  \n", [" \n  ", "\n"]))
@example(data=("a \n \n  \r\n", ["a \n", " \n  ", "\r\n"]))
def test_encode_iterable_cuts_pre_tokens_like_encode_ordinary(revealing, pattern, data):
    text, chunks = data
    tok = revealing["gpt2" if pattern == GPT2_SPLIT_PATTERN else "gpt4"]
    assert list(tok.encode_iterable(chunks)) == tok.encode_ordinary(text)


@SETTINGS
@given(data=text_and_cuts(st.one_of(st.text(max_size=200), mixed_text)))
def test_encode_iterable_equals_encode_ordinary_of_the_join(trained, gpt2, data):
    text, chunks = data
    for tok in (*trained.values(), gpt2):  # mixed_text holds "<|endoftext|>": read as text
        assert list(tok.encode_iterable(chunks, allowed_special="none")) == tok.encode_ordinary(
            text
        )


@SETTINGS
@given(data=text_and_cuts(mixed_text), lines=st.booleans())
def test_encode_iterable_accepts_any_iterable(trained, data, lines):
    text, chunks = data
    tok = trained["gpt4"]
    source = text.splitlines(keepends=True) if lines else chunks
    streamed = tok.encode_iterable(iter(source), allowed_special="none")
    assert list(streamed) == tok.encode_ordinary(text)
    assert list(tok.encode_iterable([])) == []
    assert list(tok.encode_iterable(["", "", ""])) == []


# ----------------------------------------------------------------------------- (d) surrogates
surrogate = st.integers(0xD800, 0xDFFF).map(chr)
text_with_surrogates = st.lists(
    st.one_of(
        surrogate,
        st.text(max_size=5),
        st.sampled_from(["😀", "\ud83d\ude00", "a\ud83d", "\ude00b"]),
    ),
    max_size=20,
).map("".join)


@pytest.fixture(scope="module")
def tiktokens(trained, gpt2):
    return [(tok, to_tiktoken(tok)) for tok in (*trained.values(), gpt2)]


@SETTINGS
@given(text=text_with_surrogates)
@example(text="\ud800")
@example(text="a\udfffb")
@example(text="\ud83d\ude00")  # a surrogate *pair* written as two code points
@example(text="\ude00\ud83d")  # the pair in the wrong order: two lone surrogates
def test_lone_surrogates_are_replaced_like_tiktoken(tiktokens, text):
    for tok, enc in tiktokens:
        ids = tok.encode_ordinary(text)
        assert ids == enc.encode_ordinary(text)
        assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
        assert tok.decode(ids) == enc.decode(ids)
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in tok.decode(ids))


@SETTINGS
@given(data=text_and_cuts(text_with_surrogates))
@example(data=("\ud83d\ude00", ["\ud83d", "\ude00"]))
@example(data=("x\ud83d\ude00y", ["x\ud83d", "", "\ude00y"]))
def test_encode_iterable_with_surrogates_matches_tiktoken(tiktokens, data):
    text, chunks = data
    for tok, enc in tiktokens:
        assert list(tok.encode_iterable(chunks)) == enc.encode_ordinary(text)


def test_surrogate_examples_by_hand(gpt2):
    replacement = gpt2.encode_ordinary("\ufffd")
    assert gpt2.encode_ordinary("\ud800") == replacement
    assert gpt2.encode_ordinary("a\udc00b") == gpt2.encode_ordinary("a\ufffdb")
    # a high + low surrogate pair is the character it encodes (tiktoken's utf-16 round trip)
    assert gpt2.encode_ordinary("\ud83d\ude00") == gpt2.encode_ordinary("😀")
    assert list(gpt2.encode_iterable(["\ud83d", "\ude00"])) == gpt2.encode_ordinary("😀")
