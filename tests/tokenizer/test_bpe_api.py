"""The public API of `BPETokenizer`: training, ids, encode/decode semantics and errors.

Expected merges here are worked out by hand from the documented rules (most
frequent pair first; ties go to the lexicographically greatest pair of byte
strings; pairs are counted inside pre-tokens only), so they do not depend on
what the code happens to output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from groundup.tokenizer import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, BPETokenizer, Merge

EOT = "<|endoftext|>"
A, B, C, D, SP = ord("a"), ord("b"), ord("c"), ord("d"), ord(" ")


def merges_of(tok: BPETokenizer) -> list[tuple[tuple[int, int], int]]:
    return [(m.pair, m.count) for m in tok.merges]


def byte_ranks(extra: Sequence[bytes] = ()) -> dict[bytes, int]:
    ranks = {bytes([i]): i for i in range(256)}
    for b in extra:
        ranks[b] = len(ranks)
    return ranks


@pytest.fixture(scope="module")
def small_tok() -> BPETokenizer:
    text = "the quick brown fox jumps over the lazy dog. " * 20 + "héllo wörld €100 日本語 " * 10
    return BPETokenizer.train(text, 256 + 40 + 2, special_tokens=[EOT, "<|pad|>"])


# ------------------------------------------------------------------ ids and training
def test_ids_below_256_are_the_raw_bytes(small_tok):
    for i in range(256):
        assert small_tok.token_bytes(i) == bytes([i])
        assert small_tok.ranks[bytes([i])] == i
    # text with no merges available encodes to its UTF-8 bytes
    assert small_tok.encode("Z") == [ord("Z")]
    assert small_tok.encode("\x00\x7f") == [0, 0x7F]


def test_merge_k_creates_id_256_plus_k_with_the_concatenated_bytes(small_tok):
    vocab = {i: bytes([i]) for i in range(256)}
    assert len(small_tok.merges) == 40
    for k, m in enumerate(small_tok.merges):
        assert isinstance(m, Merge)
        assert m.new_id == 256 + k
        a, b = m.pair
        assert a in vocab and b in vocab  # a merge only uses tokens that already exist
        vocab[m.new_id] = vocab[a] + vocab[b]
        assert small_tok.token_bytes(m.new_id) == vocab[m.new_id]
        assert small_tok.ranks[vocab[m.new_id]] == m.new_id
    counts = [m.count for m in small_tok.merges]
    assert counts == sorted(counts, reverse=True)  # greedy: counts never increase


def test_special_tokens_come_after_the_merges(small_tok):
    assert small_tok.special_tokens == {EOT: 256 + 40, "<|pad|>": 256 + 41}
    assert small_tok.vocab_size == 256 + 40 + 2
    assert small_tok.token_bytes(256 + 40) == EOT.encode()


@pytest.mark.parametrize(
    "n_merges,specials", [(0, []), (1, []), (7, [EOT]), (20, [EOT, "<|a|>", "<|b|>"])]
)
def test_vocab_size_counts_bytes_merges_and_specials(n_merges, specials):
    text = "low lower lowest newer wider; the quick brown fox jumps over the lazy dog " * 30
    tok = BPETokenizer.train(text, 256 + n_merges + len(specials), special_tokens=specials)
    assert len(tok.merges) == n_merges
    assert tok.vocab_size == 256 + n_merges + len(specials)
    assert sorted(tok.special_tokens.values()) == list(range(256 + n_merges, tok.vocab_size))


def test_training_stops_when_no_pairs_are_left():
    # pre-tokens "ab" and " cd": three merges make each one token, then nothing is left
    tok = BPETokenizer.train("ab cd", 10_000, special_tokens=[EOT])
    assert len(tok.merges) == 3
    assert tok.vocab_size == 256 + 3 + 1
    assert tok.special_tokens == {EOT: 259}


def test_counts_and_ties_worked_by_hand():
    # "ab cd " * 10 -> pre-tokens "ab" x1, " cd" x10, " ab" x9, " " x1 (GPT-4 pattern).
    # Pairs: (a,b) 10, (' ',c) 10, (c,d) 10, (' ',a) 9. The three-way tie at 10
    # goes to the greatest pair of byte strings: (b"c", b"d").
    tok = BPETokenizer.train("ab cd " * 10, 10_000, GPT4_SPLIT_PATTERN)
    assert merges_of(tok) == [
        ((C, D), 10),  # 256 = "cd"
        ((A, B), 10),  # 257 = "ab"   (b"a" > b" ")
        ((SP, 256), 10),  # 258 = " cd"
        ((SP, 257), 9),  # 259 = " ab"
    ]


def test_tie_break_compares_second_element_when_first_is_equal():
    # "ab ac": (a,b), (' ',a), (a,c) all once; (a,c) > (a,b) > (' ',a)
    tok = BPETokenizer.train("ab ac", 10_000)
    assert merges_of(tok) == [((A, ord("c")), 1), ((A, B), 1), ((SP, 256), 1)]


def test_tie_break_compares_bytes_not_ids():
    # After 256="aa" and 257=" aa", three pairs tie at 1:
    #   (256,b) = (b"aa", b"b"), (' ',z) = (b" ", b"z"), (z,b) = (b"z", b"b").
    # By byte strings (z,b) is greatest; by ids (256,b) would be.
    z = ord("z")
    tok = BPETokenizer.train("aab zb aa aa aa", 10_000)
    assert merges_of(tok) == [
        ((A, A), 4),
        ((SP, 256), 3),
        ((z, B), 1),
        ((256, B), 1),  # (b"aa", b"b") > (b" ", b"zb")
        ((SP, 258), 1),
    ]


def test_tie_break_compares_raw_bytes_of_multibyte_characters():
    # "é" is b"\xc3\xa9": its pair beats the ASCII pairs it ties with
    tok = BPETokenizer.train("é ab", 10_000)
    assert merges_of(tok) == [((0xC3, 0xA9), 1), ((A, B), 1), ((SP, 257), 1)]


def test_overlapping_pairs_are_counted_but_merged_left_to_right():
    # "aaaa" has three (a,a) pairs; merging gives [aa, aa], then one (aa,aa)
    tok = BPETokenizer.train("aaaa", 10_000)
    assert merges_of(tok) == [((A, A), 3), ((256, 256), 1)]
    assert tok.encode("aaaa") == [257]
    assert tok.encode("aaa") == [256, A]


def test_pattern_controls_what_can_merge():
    # GPT-2 keeps " 123456" as one pre-token; GPT-4 cuts digits into runs of at most 3
    text = " 123456" * 5
    gpt2 = BPETokenizer.train(text, 10_000, GPT2_SPLIT_PATTERN)
    gpt4 = BPETokenizer.train(text, 10_000, GPT4_SPLIT_PATTERN)
    assert gpt2.encode(" 123456") == [gpt2.ranks[b" 123456"]]
    assert b" 123456" not in gpt4.ranks
    assert len(max(gpt4.ranks, key=len)) == 3
    assert gpt2.pattern == GPT2_SPLIT_PATTERN and gpt4.pattern == GPT4_SPLIT_PATTERN


def test_iterable_of_texts_trains_like_their_concatenation():
    # boundaries placed where the pattern cuts anyway (before a space-led word)
    parts = ["hello world"] + [" hello there", " world of words", " hello", " hello world"] * 5
    joined = BPETokenizer.train("".join(parts), 300)
    from_list = BPETokenizer.train(parts, 300)
    from_gen = BPETokenizer.train((p for p in parts), 300)  # a one-shot iterator
    assert merges_of(from_list) == merges_of(joined) == merges_of(from_gen)
    assert from_list.ranks == joined.ranks


def test_iterable_texts_are_separate_documents():
    # pairs never span two texts: "ab" split into "a" and "b" has no pair at all
    with_pair = BPETokenizer.train("ab", 300)
    assert merges_of(with_pair) == [((A, B), 1)]
    assert BPETokenizer.train(["a", "b"], 300).merges == []


def test_special_tokens_in_training_text_are_never_merged_across():
    text = ("x" + EOT) * 50
    plain = BPETokenizer.train(text, 300)
    # without declaring it, "<|endoftext|>" is ordinary text and its pairs get merged
    assert any(b"|" in t and len(t) > 1 for t in plain.ranks)
    special = BPETokenizer.train(text, 300, special_tokens=[EOT])
    # declared special: only the single "x"s are left, which have no pairs
    assert special.merges == []
    assert special.special_tokens == {EOT: 256}


def test_special_tokens_cut_training_text_like_separate_documents():
    docs = ["the cat sat", "on the mat", "the end"]
    cut = BPETokenizer.train(EOT.join(docs), 280, special_tokens=[EOT])
    separate = BPETokenizer.train(docs, 279)
    assert merges_of(cut) == merges_of(separate)
    assert not any(b"<|" in t or b"|>" in t for t in cut.ranks)


def test_overlapping_special_tokens_are_cut_longest_first():
    # "<|a|>" must not be cut out of "<|a|>b>" before the longer special is seen
    text = "xy<|a|>b>xy<|a|>xy"
    tok = BPETokenizer.train(text, 300, special_tokens=["<|a|>", "<|a|>b>"])
    assert merges_of(tok) == [((ord("x"), ord("y")), 3)]
    assert tok.encode("<|a|>b>", allowed_special="all") == [tok.special_tokens["<|a|>b>"]]


def test_duplicate_special_tokens_are_counted_once():
    tok = BPETokenizer.train("hello", 300, special_tokens=[EOT, EOT])
    assert tok.special_tokens == {EOT: len(tok.merges) + 256}


def test_progress_bar_does_not_change_the_result(capsys):
    text = "progress bars should not change anything " * 20
    quiet = BPETokenizer.train(text, 300)
    loud = BPETokenizer.train(text, 300, progress=True)
    assert merges_of(loud) == merges_of(quiet)
    err = capsys.readouterr().err
    assert "merge" in err  # tqdm's bar, unit="merge"


# ------------------------------------------------------------------ encode semantics
def test_encode_raises_by_default_on_special_text_and_names_it(small_tok):
    with pytest.raises(ValueError, match=r"<\|endoftext\|>"):
        small_tok.encode("hello <|endoftext|> world")
    with pytest.raises(ValueError, match=r"<\|pad\|>"):
        small_tok.encode("<|pad|>")
    # explicit "none_raise" is the default
    with pytest.raises(ValueError):
        small_tok.encode(EOT, allowed_special="none_raise")


def test_encode_all_turns_every_special_into_its_id(small_tok):
    eot, pad = small_tok.special_tokens[EOT], small_tok.special_tokens["<|pad|>"]
    ids = small_tok.encode(
        "the dog<|endoftext|><|pad|> the fox<|endoftext|>", allowed_special="all"
    )
    assert ids == (
        small_tok.encode_ordinary("the dog")
        + [eot, pad]
        + small_tok.encode_ordinary(" the fox")
        + [eot]
    )
    assert small_tok.decode(ids) == "the dog<|endoftext|><|pad|> the fox<|endoftext|>"


def test_encode_with_a_set_allows_only_those(small_tok):
    eot = small_tok.special_tokens[EOT]
    assert small_tok.encode("a<|endoftext|>b", allowed_special={EOT}) == [A, eot, B]
    assert small_tok.encode("a<|endoftext|>b", allowed_special=frozenset([EOT])) == [A, eot, B]
    # "<|pad|>" is not allowed, so it still raises, naming it
    with pytest.raises(ValueError, match=r"<\|pad\|>"):
        small_tok.encode("a<|endoftext|>b<|pad|>", allowed_special={EOT})
    # an empty set allows nothing
    with pytest.raises(ValueError, match=r"<\|endoftext\|>"):
        small_tok.encode("a<|endoftext|>", allowed_special=set())
    assert small_tok.encode("plain text", allowed_special=set()) == small_tok.encode_ordinary(
        "plain text"
    )


def test_encode_none_treats_specials_as_plain_text(small_tok):
    text = "x<|endoftext|>y"
    ids = small_tok.encode(text, allowed_special="none")
    assert ids == small_tok.encode_ordinary(text)
    assert small_tok.special_tokens[EOT] not in ids
    assert small_tok.decode(ids) == text
    assert len(ids) > 1


def test_encode_ordinary_ignores_specials(small_tok):
    ids = small_tok.encode_ordinary(EOT)
    assert small_tok.special_tokens[EOT] not in ids
    assert small_tok.decode_bytes(ids) == EOT.encode()


@pytest.mark.parametrize("bad", ["al", "ALL", "none_raise ", "<|endoftext|>", ""])
def test_encode_rejects_unknown_allowed_special_strings(small_tok, bad):
    with pytest.raises(ValueError, match="allowed_special"):
        small_tok.encode("hello", allowed_special=bad)


def test_encode_rejects_sets_with_non_special_strings(small_tok):
    with pytest.raises(ValueError, match=re.escape("<|nope|>")):
        small_tok.encode("hello", allowed_special={EOT, "<|nope|>"})


def test_encode_rejects_none_as_allowed_special(small_tok):
    with pytest.raises((TypeError, ValueError)):
        small_tok.encode("hello", allowed_special=None)


def test_encode_prefers_the_longest_overlapping_special():
    tok = BPETokenizer(byte_ranks(), GPT4_SPLIT_PATTERN, {"<|a|>": 256, "<|a|>b>": 257})
    assert tok.encode("<|a|>b><|a|>", allowed_special="all") == [257, 256]
    assert tok.encode("<|a|>b<|a|>b>", allowed_special="all") == [256, ord("b"), 257]
    # the longer one is in the text but not allowed: that raises, as in tiktoken
    with pytest.raises(ValueError, match=re.escape("<|a|>b>")):
        tok.encode("<|a|>b>", allowed_special={"<|a|>"})


def test_encode_is_rank_based_like_tiktoken():
    # ranks: "bc" (256) before "ab" (257): "abc" -> a + bc, whatever order a trainer used
    tok = BPETokenizer(byte_ranks([b"bc", b"ab"]), GPT4_SPLIT_PATTERN)
    assert tok.encode("abc") == [A, 256]
    assert tok.encode("ab") == [257]
    # ties in rank between positions go to the leftmost pair
    tok2 = BPETokenizer(byte_ranks([b"aa"]), GPT4_SPLIT_PATTERN)
    assert tok2.encode("aaa") == [256, A]


def test_encode_cache_stays_bounded():
    tok = BPETokenizer(byte_ranks([b"ab"]), GPT4_SPLIT_PATTERN, cache_size=10)
    words = " ".join(f"ab{i}" for i in range(100))
    assert tok.decode(tok.encode(words)) == words
    assert len(tok._cache) <= 10
    # results stay right after the cache has been cleared
    assert tok.encode("ab") == [256]


# ------------------------------------------------------------------ decoding
def test_decode_unknown_id_raises_naming_it(small_tok):
    for bad in (small_tok.vocab_size, 10**9, -1):
        with pytest.raises(ValueError, match=str(bad)):
            small_tok.decode([65, bad])
        with pytest.raises(ValueError, match=str(bad)):
            small_tok.decode_bytes([bad])


def test_decode_unknown_id_from_an_iterator(small_tok):
    # the ids may be a one-shot iterator; the error must still name the bad id
    with pytest.raises(ValueError, match="99999"):
        small_tok.decode(iter([65, 66, 99999]))
    with pytest.raises(ValueError, match="99999"):
        small_tok.decode(i for i in [65, 99999])
    assert small_tok.decode(iter([72, 105])) == "Hi"


def test_decode_non_int_id_raises_value_error(small_tok):
    with pytest.raises(ValueError, match="unknown token id"):
        small_tok.decode([65, "B"])
    with pytest.raises(ValueError, match="unknown token id"):
        small_tok.decode([[65]])


def test_decode_invalid_utf8_uses_replacement_character(small_tok):
    euro = "€".encode()  # e2 82 ac
    assert small_tok.decode([euro[0], euro[1]]) == "\ufffd"
    assert small_tok.decode_bytes([euro[0], euro[1]]) == euro[:2]
    assert small_tok.decode([A, 0xFF, B]) == "a\ufffdb"
    assert small_tok.decode_bytes([A, 0xFF, B]) == b"a\xffb"
    # the three halves together are the character again
    assert small_tok.decode(list(euro)) == "€"


def test_decode_a_token_that_is_half_a_character():
    ranks = byte_ranks([b"\xa9\xc3"])  # half of one "é" + half of the next
    tok2 = BPETokenizer(ranks, GPT4_SPLIT_PATTERN)
    assert tok2.decode([256]) == "\ufffd\ufffd"
    assert tok2.decode_bytes([256]) == b"\xa9\xc3"
    assert tok2.decode([0xC3, 256, 0xA9]) == "éé"
    assert tok2.encode("éé") == [0xC3, 256, 0xA9]


def test_decode_empty(small_tok):
    assert small_tok.decode([]) == ""
    assert small_tok.decode_bytes([]) == b""
    assert small_tok.encode("") == []


# ------------------------------------------------------------------ errors
def test_vocab_size_too_small_names_the_numbers():
    with pytest.raises(ValueError, match=r"vocab_size=255.*256"):
        BPETokenizer.train("hello", 255)
    with pytest.raises(ValueError, match=r"vocab_size=257.*2 special.*258"):
        BPETokenizer.train("hello", 257, special_tokens=["<|a|>", "<|b|>"])
    # exactly enough room: no merges
    tok = BPETokenizer.train("hello", 258, special_tokens=["<|a|>", "<|b|>"])
    assert tok.merges == [] and tok.vocab_size == 258


@pytest.mark.parametrize("empty", ["", [], [""], ["", ""], iter([])])
def test_empty_corpus_raises(empty):
    with pytest.raises(ValueError, match="empty"):
        BPETokenizer.train(empty, 300)


@pytest.mark.parametrize("bad", [b"bytes", [b"bytes"], ["ok", 3], [None], 42])
def test_train_rejects_non_str(bad):
    with pytest.raises(TypeError):
        BPETokenizer.train(bad, 300)


def test_train_replaces_lone_surrogates_as_encode_does():
    # text read with errors="surrogateescape", or cut from UTF-16, holds lone surrogates:
    # encode turns each into U+FFFD (as tiktoken does), and training must not crash on them
    text = "caf\udce9 ok \ud83d\ude00 x\ud800y " * 30
    scrubbed = "caf\ufffd ok 😀 x\ufffdy " * 30
    tok = BPETokenizer.train(text, 300)
    assert merges_of(tok) == merges_of(BPETokenizer.train(scrubbed, 300))
    assert tok.encode(text) == tok.encode(scrubbed)
    assert len(tok.encode(text)) < len(scrubbed.encode()) / 3  # the merges fit this text
    assert tok.decode(tok.encode(text)) == scrubbed
    with_specials = BPETokenizer.train(
        text + "<|endoftext|>\udc80", 300, special_tokens=["<|endoftext|>"]
    )
    eot = with_specials.special_tokens["<|endoftext|>"]
    ids = with_specials.encode("<|endoftext|>\udc80", allowed_special="all")
    assert ids == [eot, *with_specials.encode("\ufffd")]


@pytest.mark.parametrize("bad", [b"bytes", None, 3, ["list"]])
def test_encode_functions_reject_non_str(small_tok, bad):
    with pytest.raises(TypeError, match="str"):
        small_tok.encode(bad)
    with pytest.raises(TypeError, match="str"):
        small_tok.encode(bad, allowed_special="all")
    with pytest.raises(TypeError, match="str"):
        small_tok.encode_ordinary(bad)
    with pytest.raises(TypeError, match="str"):
        list(small_tok.encode_iterable(["fine", bad]))


def test_from_ranks_requires_all_single_bytes():
    ranks = byte_ranks()
    del ranks[b"A"]
    with pytest.raises(ValueError, match="256 single bytes.*65"):
        BPETokenizer.from_ranks(ranks, GPT4_SPLIT_PATTERN)


def test_from_ranks_rejects_duplicate_ids():
    ranks = byte_ranks()
    ranks[b"ab"] = 97
    with pytest.raises(ValueError, match="distinct"):
        BPETokenizer.from_ranks(ranks, GPT4_SPLIT_PATTERN)


def test_from_ranks_rejects_special_ids_that_collide():
    ranks = byte_ranks([b"ab"])
    with pytest.raises(ValueError, match="256"):
        BPETokenizer.from_ranks(ranks, GPT4_SPLIT_PATTERN, {EOT: 256})
    with pytest.raises(ValueError, match="collide"):
        BPETokenizer.from_ranks(ranks, GPT4_SPLIT_PATTERN, {EOT: 3})


def test_from_ranks_rejects_empty_special_strings():
    with pytest.raises(ValueError, match="non-empty"):
        BPETokenizer.from_ranks(byte_ranks(), GPT4_SPLIT_PATTERN, {"": 300})


def test_from_ranks_builds_a_working_tokenizer():
    tok = BPETokenizer.from_ranks(
        byte_ranks([b"he", b"ll", b"hell", b"o!"]), GPT2_SPLIT_PATTERN, {EOT: 1000}
    )
    # "hello": he + l + l + o -> he + ll + o -> hell + o; "!" is its own pre-token
    assert tok.encode("hello!") == [258, ord("o"), ord("!")]
    assert tok.encode("hell o!") == [258, ord(" "), ord("o"), ord("!")]
    assert tok.vocab_size == 1001
    assert tok.merges == []
    assert tok.encode(EOT, allowed_special="all") == [1000]
    # the ranks passed in are copied, and handed out as copies
    r = tok.ranks
    r[b"zz"] = 5000
    assert b"zz" not in tok.ranks


def test_repr_mentions_sizes(small_tok):
    assert "vocab_size=298" in repr(small_tok)
    assert "special_tokens=2" in repr(small_tok)
