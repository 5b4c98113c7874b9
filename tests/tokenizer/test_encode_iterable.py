"""`encode_iterable` handles special tokens exactly as `encode` does, however the text is cut.

The oracle is `encode` on the joined text (itself checked against tiktoken in
`test_tiktoken_parity.py`), and tiktoken directly where one exists. The chunk
boundaries are random, and the examples and the exhaustive tests put them inside
special strings ("<|endo" + "ftext|>"), where a streaming encoder that looked at
one chunk at a time would see only ordinary text.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from typing import Literal

import pytest
import regex
import tiktoken
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from groundup.tokenizer import GPT4_SPLIT_PATTERN, BPETokenizer
from groundup.tokenizer.bpe import AllowedSpecial
from groundup.tokenizer.interop import to_tiktoken

EOT = "<|endoftext|>"
# overlapping on purpose: "<|e" begins two others, "<|end|>" and EOT share "<|end",
# "|>x" begins with the end of three, "§" is one character (nothing waits for it)
SPECIALS = [EOT, "<|end|>", "<|e", "|>x", "§", "<|fim_prefix|>"]
DISTINCT = [EOT, "§", "<|fim_prefix|>"]  # no one a part of another

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

WORDS = [
    "hello",
    " world",
    " ",
    "\n",
    "\n\n",
    "  ",
    "'ll",
    "x",
    "12345",
    ".",
    "日本",
    "😀",
    "\ud83d",  # half of a surrogate pair: tiktoken replaces a lone one
    "\ude00",
    # pieces of special strings, so that joining words can also build one
    "<|",
    "|>",
    "<|endo",
    "ftext|>",
    "end",
    "<",
    "|",
    ">",
]
words_and_specials = st.lists(st.sampled_from(WORDS + SPECIALS), max_size=25).map("".join)


@st.composite
def text_and_chunks(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A text of random words and specials, cut at random places (empty chunks too)."""
    text = draw(words_and_specials)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=10)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


def allowed_modes(specials: Collection[str]) -> st.SearchStrategy[AllowedSpecial]:
    """Every form `allowed_special` takes: the three names, and a subset as set, list or frozenset."""
    subset = st.lists(st.sampled_from(sorted(specials)), unique=True) if specials else st.just([])
    return st.one_of(
        st.sampled_from(["none_raise", "all", "none"]),
        subset.map(set),
        subset,
        subset.map(frozenset),
    )


@pytest.fixture(scope="module")
def tokenizers(shakespeare) -> dict[str, BPETokenizer]:
    text = shakespeare[:60_000] + "".join(w for w in WORDS if w.isprintable()) * 20
    with_specials = BPETokenizer.train(text, 700, GPT4_SPLIT_PATTERN, special_tokens=SPECIALS)
    ids = with_specials.special_tokens
    return {
        "overlapping specials": with_specials,
        # tiktoken tries overlapping specials in no fixed order, so compare with it on these
        "distinct specials": BPETokenizer(
            with_specials.ranks, GPT4_SPLIT_PATTERN, {s: ids[s] for s in DISTINCT}
        ),
        "no specials": BPETokenizer(with_specials.ranks, GPT4_SPLIT_PATTERN),
    }


def encode_or_error(tok: BPETokenizer, text: str, mode: AllowedSpecial) -> list[int] | Exception:
    try:
        return tok.encode(text, allowed_special=mode)
    except ValueError as e:
        return e


def assert_streams_like_encode(
    tok: BPETokenizer, text: str, chunks: list[str], mode: AllowedSpecial
) -> None:
    assert "".join(chunks) == text
    expected = encode_or_error(tok, text, mode)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected), match="special token"):
            list(tok.encode_iterable(chunks, allowed_special=mode))
    else:
        assert list(tok.encode_iterable(chunks, allowed_special=mode)) == expected


# ----------------------------------------------------------------------------- the property
@SETTINGS
@given(data=text_and_chunks(), draw=st.data())
@example(data=("a<|endoftext|>b", ["a<|endo", "ftext|>b"]), draw=None)
@example(data=("<|endoftext|>", ["<|e", "ndoftext|>"]), draw=None)
@example(data=("<|end|>x", ["<|end", "|>x"]), draw=None)
@example(data=("<|end|>x", ["<|end|", ">x"]), draw=None)
@example(data=("<|endoftext|", ["<|endoftext", "|"]), draw=None)
def test_stream_equals_encode_of_the_join(tokenizers, data, draw):
    text, chunks = data
    for tok in tokenizers.values():
        modes: list[AllowedSpecial] = ["all", "none_raise", "none", set(), {EOT}]
        if "<|e" in tok.special_tokens:
            modes.append([EOT, "<|e"])
        if not tok.special_tokens:
            modes.remove({EOT})
        if draw is not None:
            modes.append(draw.draw(allowed_modes(tok.special_tokens)))
        for mode in modes:
            assert_streams_like_encode(tok, text, chunks, mode)


@pytest.mark.parametrize("mode", ["all", "none_raise", "none", {EOT}, {"<|e", "|>x"}])
def test_every_one_and_two_cuts_of_a_text_with_specials(tokenizers, mode):
    # exhaustive: every place a chunk boundary can fall, one boundary or two
    tok = tokenizers["overlapping specials"]
    text = "a<|endoftext|><|end|>x §<|e<|endoftext|"
    for i, j in itertools.combinations_with_replacement(range(len(text) + 1), 2):
        assert_streams_like_encode(tok, text, [text[:i], text[i:j], text[j:]], mode)


def test_one_character_at_a_time(tokenizers):
    tok = tokenizers["overlapping specials"]
    text = "doc one\n<|endoftext|>doc two<|end|>x<|e|>x§<|fim_prefix|><|endoftext|"
    modes: list[AllowedSpecial] = ["all", "none", set(SPECIALS) - {"§"}, "none_raise"]
    for mode in modes:
        assert_streams_like_encode(tok, text, list(text), mode)
    assert list(tok.encode_iterable(text, allowed_special="all")) == tok.encode(text, "all")


# ----------------------------------------------------------------------------- refusing
def test_refuses_a_special_split_across_chunks_by_default(tokenizers):
    tok = tokenizers["distinct specials"]  # with overlapping ones, "<|e" is complete first
    with pytest.raises(ValueError) as from_encode:
        tok.encode("doc<|endoftext|>doc")
    for chunks in (["doc<|endo", "ftext|>doc"], ["doc<", "|", "endoftext", "|>", "doc"]):
        with pytest.raises(ValueError, match="endoftext") as from_stream:
            list(tok.encode_iterable(chunks))
        assert str(from_stream.value) == str(from_encode.value)
    # allowing one special still refuses the others
    with pytest.raises(ValueError, match="fim_prefix"):
        list(tok.encode_iterable(["<|endoftext|><|fim_", "prefix|>"], allowed_special={EOT}))


def test_refusal_comes_only_with_the_chunk_that_completes_it(tokenizers):
    tok = tokenizers["distinct specials"]
    stream = tok.encode_iterable(["first document ends here\n", "<|endo", "ftext|>"])
    first = tok.encode_ordinary("first document")  # the last two pre-tokens wait
    assert [next(stream) for _ in first] == first  # nothing refused yet
    with pytest.raises(ValueError):
        list(stream)


def test_a_bad_allowed_special_fails_at_the_call(tokenizers):
    tok = tokenizers["overlapping specials"]
    for bad in ("everything", EOT, {"<|not_ours|>"}):
        with pytest.raises(ValueError) as from_encode:
            tok.encode("x", allowed_special=bad)
        with pytest.raises(ValueError) as from_stream:
            tok.encode_iterable(iter(["x"]), allowed_special=bad)  # not even iterated
        assert str(from_stream.value) == str(from_encode.value)


def test_a_tokenizer_without_specials_reads_them_as_text(tokenizers):
    tok = tokenizers["no specials"]
    chunks = ["a<|endo", "ftext|>b"]
    ordinary = tok.encode_ordinary("".join(chunks))
    modes: list[AllowedSpecial] = ["none_raise", "all", "none", set(), []]
    for mode in modes:
        assert list(tok.encode_iterable(chunks, allowed_special=mode)) == ordinary
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode_iterable(chunks, allowed_special={EOT})


# ----------------------------------------------------------------------------- tiktoken
def documents(parity_text: str) -> list[str]:
    """The parity text's paragraphs as documents."""
    return [d for d in parity_text.split("\n\n") if d.strip()]


def test_gpt2_stream_of_documents_matches_tiktoken(gpt2_pair, parity_text):
    ours, enc = gpt2_pair
    joined = EOT.join(documents(parity_text)) + EOT
    expected = enc.encode(joined, allowed_special="all")
    n_eot = joined.count(EOT)  # the separators, and two in the parity text itself
    assert expected.count(enc.eot_token) == n_eot >= len(documents(parity_text))
    by_lines = joined.splitlines(keepends=True)
    by_13 = [joined[i : i + 13] for i in range(0, len(joined), 13)]  # cuts most EOTs
    assert sum(EOT in chunk for chunk in by_13) < n_eot / 2
    for chunks in (by_lines, by_13):
        assert list(ours.encode_iterable(chunks, allowed_special="all")) == expected
        assert list(ours.encode_iterable(chunks, allowed_special={EOT})) == expected
        ordinary = list(ours.encode_iterable(chunks, allowed_special="none"))
        assert ordinary == enc.encode_ordinary(joined)
        with pytest.raises(ValueError):
            enc.encode(joined)
        with pytest.raises(ValueError):
            list(ours.encode_iterable(chunks))


@SETTINGS
@given(data=text_and_chunks(), mode=st.sampled_from(["all", "none_raise", "subset"]))
def test_trained_stream_matches_tiktoken(tokenizers, data, mode):
    tok = tokenizers["distinct specials"]
    enc = _tiktoken(tok)
    text, chunks = data
    allowed: AllowedSpecial = {EOT, "§"} if mode == "subset" else mode
    theirs: Literal["all"] | set[str] = {EOT, "§"} if mode == "subset" else set()
    if mode == "all":
        theirs = "all"
    try:
        expected: list[int] | None = enc.encode(text, allowed_special=theirs)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            list(tok.encode_iterable(chunks, allowed_special=allowed))
    else:
        assert list(tok.encode_iterable(chunks, allowed_special=allowed)) == expected


_TIKTOKEN: dict[int, tiktoken.Encoding] = {}


def _tiktoken(tok: BPETokenizer) -> tiktoken.Encoding:
    if id(tok) not in _TIKTOKEN:
        _TIKTOKEN[id(tok)] = to_tiktoken(tok)
    return _TIKTOKEN[id(tok)]


# ----------------------------------------------------------------------------- holding back
def held_back(tok: BPETokenizer, chunks: list[str], mode: AllowedSpecial) -> list[int]:
    """After each chunk, how many characters of the input have not yet come out as ids.

    Measured from outside: when the encoder asks for chunk k+1, the ids it has
    yielded decode to a prefix of the first k chunks; the rest is what it holds.
    """
    out: list[int] = []
    held: list[int] = []
    consumed = 0

    def source() -> Iterator[str]:
        nonlocal consumed
        for chunk in chunks:
            if consumed:
                held.append(consumed - len(tok.decode(out)))
            consumed += len(chunk)
            yield chunk

    out.extend(tok.encode_iterable(source(), allowed_special=mode))
    return held


def test_what_waits_is_a_special_prefix_and_two_pre_tokens(tokenizers):
    tok = tokenizers["overlapping specials"]
    words = "The cat sat.\n" + EOT + "On the mat<|end|>x again" + EOT
    chunks = [(words * 40)[i : i + 5] for i in range(0, len(words) * 40, 5)]
    longest_piece = max(len(p) for p in regex.findall(tok.pattern, words * 2))
    bound = len(max(SPECIALS, key=len)) - 1 + 2 * longest_piece
    modes: list[AllowedSpecial] = ["all", set(SPECIALS) - {"§"}, "none"]
    for mode in modes:
        held = held_back(tok, chunks, mode)
        assert len(held) == len(chunks) - 1
        assert max(held) <= bound, (mode, max(held), bound)
