"""Our encoder gives the same ids as tiktoken when both use the same vocabulary.

Two kinds of vocabulary: ones we train (on Shakespeare and on the site's default
corpus, at two sizes), handed to tiktoken through `to_tiktoken`; and GPT-2's
published files, loaded by us and compared with tiktoken's own "gpt2" encoding.
The test text is `tests/data/parity_corpus.txt` (prose, code, numbers, many
scripts, emoji, whitespace oddities) and held-out Shakespeare; that text and the
GPT-2 pair are fixtures in `tests/tokenizer/conftest.py`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.corpus import default_corpus, split_corpus
from groundup.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer
from groundup.tokenizer.interop import to_tiktoken

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>"]


@pytest.fixture(scope="module")
def shakespeare_split(shakespeare) -> tuple[str, str]:
    return split_corpus(shakespeare, holdout=0.1)


@pytest.fixture(scope="module")
def site_train() -> str:
    return split_corpus(default_corpus(), holdout=0.1)[0]


CONFIGS = [
    ("shakespeare", 1024, GPT4_SPLIT_PATTERN),
    ("shakespeare", 4096, GPT4_SPLIT_PATTERN),
    ("site", 1024, GPT4_SPLIT_PATTERN),
    ("site", 4096, GPT4_SPLIT_PATTERN),
    ("shakespeare", 1024, GPT2_SPLIT_PATTERN),
]


@pytest.fixture(
    scope="module",
    params=CONFIGS,
    ids=[f"{c}-{v}-{'gpt4' if p == GPT4_SPLIT_PATTERN else 'gpt2'}" for c, v, p in CONFIGS],
)
def pair(request, shakespeare_split, site_train) -> tuple[BPETokenizer, tiktoken.Encoding]:
    corpus, vocab_size, pattern = request.param
    text = shakespeare_split[0] if corpus == "shakespeare" else site_train
    tok = BPETokenizer.train(text, vocab_size, pattern, special_tokens=SPECIALS)
    assert tok.vocab_size == vocab_size
    return tok, to_tiktoken(tok)


def with_specials(text: str) -> str:
    """Insert special tokens between lines, inside words and back to back."""
    lines = text.split("\n")
    out = []
    for k, line in enumerate(lines):
        if k % 7 == 3:
            line = line[: len(line) // 2] + SPECIALS[k % 2] + line[len(line) // 2 :]
        out.append(line)
        if k % 11 == 5:
            out.append(SPECIALS[0] + SPECIALS[1] + SPECIALS[0])
    return SPECIALS[1] + "\n".join(out) + SPECIALS[0]


# ------------------------------------------------------------------ trained vocabularies
def test_to_tiktoken_carries_the_vocabulary(pair):
    tok, enc = pair
    assert enc.n_vocab == tok.vocab_size
    assert enc._mergeable_ranks == tok.ranks
    assert enc._special_tokens == tok.special_tokens
    assert enc._pat_str == tok.pattern


def test_encode_ordinary_parity_on_varied_text(pair, parity_text):
    tok, enc = pair
    assert tok.encode_ordinary(parity_text) == enc.encode_ordinary(parity_text)
    for line in parity_text.splitlines(keepends=True):
        assert tok.encode_ordinary(line) == enc.encode_ordinary(line), repr(line)


def test_encode_ordinary_parity_on_held_out_shakespeare(pair, shakespeare_split):
    tok, enc = pair
    held = shakespeare_split[1]
    assert len(held) > 50_000
    ids = tok.encode_ordinary(held)
    assert ids == enc.encode_ordinary(held)
    assert len(ids) < len(held.encode())  # it does compress


def test_encode_all_specials_parity(pair, parity_text, shakespeare_split):
    tok, enc = pair
    for text in (with_specials(parity_text), with_specials(shakespeare_split[1][:20_000])):
        ours = tok.encode(text, allowed_special="all")
        assert ours == enc.encode(text, allowed_special="all")
        assert ours.count(tok.special_tokens[SPECIALS[0]]) == text.count(SPECIALS[0])
        # encode_ordinary treats them as text, like tiktoken's encode_ordinary
        assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_encode_allowed_subset_parity(pair, parity_text):
    tok, enc = pair
    text = parity_text.replace("Numbers:", SPECIALS[0] + "Numbers:")
    allowed = {SPECIALS[0]}
    assert tok.encode(text, allowed_special=allowed) == enc.encode(text, allowed_special=allowed)
    both = text + SPECIALS[1]
    with pytest.raises(ValueError):
        enc.encode(both, allowed_special=allowed)
    with pytest.raises(ValueError):
        tok.encode(both, allowed_special=allowed)


def test_encode_iterable_parity(pair, parity_text):
    tok, enc = pair
    text = with_specials(parity_text)
    lines = text.splitlines(keepends=True)
    chunks = [text[i : i + 37] for i in range(0, len(text), 37)]
    for parts in (lines, chunks):
        assert list(tok.encode_iterable(parts, "none")) == enc.encode_ordinary(text)
        streamed = list(tok.encode_iterable(parts, "all"))
        assert streamed == enc.encode(text, allowed_special="all")
        with pytest.raises(ValueError):  # the default refuses them, as tiktoken's encode does
            list(tok.encode_iterable(parts))


def test_decode_parity(pair, parity_text):
    tok, enc = pair
    text = with_specials(parity_text)
    ids = enc.encode(text, allowed_special="all")
    assert tok.decode(ids) == enc.decode(ids) == text
    assert tok.decode_bytes(ids) == enc.decode_bytes(ids)
    for i in range(tok.vocab_size):
        assert tok.token_bytes(i) == enc.decode_single_token_bytes(i)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_decode_parity_on_arbitrary_ids(shakespeare_split, data):
    # arbitrary id sequences: partial UTF-8 sequences must become U+FFFD the same way
    tok, enc = _arbitrary_pair(shakespeare_split[0])
    ids = data.draw(st.lists(st.integers(0, tok.vocab_size - 1), max_size=40))
    assert tok.decode(ids) == enc.decode(ids)
    assert tok.decode_bytes(ids) == enc.decode_bytes(ids)
    for errors in ("strict", "ignore", "replace", "backslashreplace", "surrogateescape"):
        try:
            expected: str | type[Exception] = enc.decode(ids, errors=errors)
        except UnicodeDecodeError as e:
            expected = type(e)
        if isinstance(expected, str):
            assert tok.decode(ids, errors=errors) == expected
        else:
            with pytest.raises(expected):
                tok.decode(ids, errors=errors)


def test_decode_errors_by_hand(gpt2_pair):
    ours, enc = gpt2_pair
    emoji = enc.encode("😀")
    assert len(emoji) > 1  # its four bytes are more than one token
    ids = enc.encode("ok ") + emoji[:1]
    assert ours.decode(ids) == enc.decode(ids) == "ok \ufffd"
    assert ours.decode(ids, errors="ignore") == enc.decode(ids, errors="ignore") == "ok "
    with pytest.raises(UnicodeDecodeError):
        ours.decode(ids, errors="strict")


ALLOWED_FORMS: list[Literal["all"] | set[str]] = [set(), {SPECIALS[0]}, {SPECIALS[1]}, "all"]
DISALLOWED_FORMS: list[Literal["all"] | Collection[str]] = [
    "all",
    (),
    {SPECIALS[0]},
    [SPECIALS[1]],
    frozenset(SPECIALS),
]


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from([*SPECIALS, "doc", " one", "\n", "<|", "|>", " "]), max_size=12),
    allowed=st.sampled_from(ALLOWED_FORMS),
    disallowed=st.sampled_from(DISALLOWED_FORMS),
    cut=st.integers(0, 60),
)
def test_disallowed_special_like_tiktoken(shakespeare_split, words, allowed, disallowed, cut):
    # tiktoken's two arguments together: `disallowed_special=()` reads unallowed specials as text
    tok, enc = _arbitrary_pair(shakespeare_split[0])
    text = "".join(words)
    try:
        expected: list[int] | None = enc.encode(
            text, allowed_special=allowed, disallowed_special=disallowed
        )
    except ValueError:
        expected = None
    chunks = [text[:cut], text[cut:]]  # the cut often falls inside a special string
    if expected is None:
        with pytest.raises(ValueError):
            tok.encode(text, allowed_special=allowed, disallowed_special=disallowed)
        with pytest.raises(ValueError):
            list(tok.encode_iterable(chunks, allowed, disallowed_special=disallowed))
    else:
        assert tok.encode(text, allowed_special=allowed, disallowed_special=disallowed) == expected
        assert list(tok.encode_iterable(chunks, allowed, disallowed_special=disallowed)) == expected


def test_disallowed_special_by_hand(gpt2_pair):
    ours, enc = gpt2_pair
    text = "a<|endoftext|>b"
    as_text = enc.encode_ordinary(text)
    assert (
        ours.encode(text, disallowed_special=())
        == enc.encode(text, disallowed_special=())
        == as_text
    )
    assert list(ours.encode_iterable(["a<|endo", "ftext|>b"], disallowed_special=())) == as_text
    with pytest.raises(ValueError, match="disallowed_special must be 'all' or a set"):
        ours.encode(text, disallowed_special="none")
    with pytest.raises(ValueError, match="not special tokens"):
        ours.encode(text, disallowed_special={"<|im_end|>"})


_ARBITRARY: dict[str, tuple[BPETokenizer, tiktoken.Encoding]] = {}


def _arbitrary_pair(train_text: str) -> tuple[BPETokenizer, tiktoken.Encoding]:
    if "tok" not in _ARBITRARY:
        # non-ASCII-heavy training text so many tokens are fragments of characters
        text = (
            train_text[:50_000] + "日本語のテキスト、中文、한국어、😀👍🏽 Ελληνικά русский " * 200
        )
        tok = BPETokenizer.train(text, 1024, special_tokens=SPECIALS)
        _ARBITRARY["tok"] = (tok, to_tiktoken(tok))
    return _ARBITRARY["tok"]


# ------------------------------------------------------------------ GPT-2's real merges
def test_gpt2_files_match_tiktoken_vocabulary(gpt2_pair):
    ours, enc = gpt2_pair
    assert ours.ranks == enc._mergeable_ranks
    assert ours.special_tokens == enc._special_tokens == {"<|endoftext|>": 50256}
    assert ours.vocab_size == enc.n_vocab == 50257
    assert ours.pattern == GPT2_SPLIT_PATTERN
    assert len(ours.ranks) == 50256


def test_gpt2_known_ids(gpt2_pair):
    ours, enc = gpt2_pair
    assert ours.encode("Hello world") == [15496, 995]
    assert ours.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert ours.decode([15496, 995, 50256]) == "Hello world<|endoftext|>"
    with pytest.raises(ValueError, match="endoftext"):
        ours.encode("<|endoftext|>")


def test_gpt2_parity_on_varied_text(gpt2_pair, parity_text):
    ours, enc = gpt2_pair
    assert ours.encode_ordinary(parity_text) == enc.encode_ordinary(parity_text)
    for line in parity_text.splitlines(keepends=True):
        assert ours.encode_ordinary(line) == enc.encode_ordinary(line), repr(line)
    text = parity_text.replace("\n\n", "\n<|endoftext|>\n")
    assert ours.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    ids = enc.encode(text, allowed_special="all")
    assert ours.decode(ids) == enc.decode(ids) == text


def test_gpt2_parity_on_shakespeare(gpt2_pair, shakespeare_split):
    ours, enc = gpt2_pair
    held = shakespeare_split[1]
    assert ours.encode_ordinary(held) == enc.encode_ordinary(held)
    assert list(ours.encode_iterable(held.splitlines(keepends=True))) == enc.encode_ordinary(held)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_gpt2_parity_on_arbitrary_text(gpt2_pair, text):
    ours, enc = gpt2_pair
    assert ours.encode_ordinary(text) == enc.encode_ordinary(text)
