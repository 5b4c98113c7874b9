"""Tokenizer files: our JSON format (save/load, atomic writes, damage detection)
and GPT-2's published `encoder.json` + `vocab.bpe`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from groundup.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, TokenizerFileError, load_gpt2_files

EOT = "<|endoftext|>"
SAMPLE = (
    "The quick brown fox jumps over the lazy dog; the dog sleeps. "
    "Ünïcödé, 日本語, emoji 😀👍🏽, numbers 12345, code: def f(x): return x\n"
) * 40


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train(SAMPLE, 400, special_tokens=[EOT, "<|pad|>"])


@pytest.fixture
def saved(tok, tmp_path) -> Path:
    path = tmp_path / "tok.json"
    tok.save(path)
    return path


# ------------------------------------------------------------------ round trip
def test_save_load_round_trip(tok, saved, shakespeare):
    loaded = BPETokenizer.load(saved)
    assert loaded.ranks == tok.ranks
    assert loaded.special_tokens == tok.special_tokens
    assert loaded.merges == tok.merges
    assert loaded.pattern == tok.pattern
    assert loaded.vocab_size == tok.vocab_size
    text = SAMPLE + shakespeare[:20_000] + "<|endoftext|> after <|pad|>"
    assert loaded.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert loaded.decode(tok.encode_ordinary(text)) == text


def test_round_trip_of_loaded_gpt2_and_other_patterns(shared_data, tmp_path):
    gpt2 = load_gpt2_files(
        shared_data / "gpt2" / "encoder.json", shared_data / "gpt2" / "vocab.bpe"
    )
    gpt2.save(tmp_path / "gpt2.json")
    again = BPETokenizer.load(tmp_path / "gpt2.json")
    assert again.ranks == gpt2.ranks
    assert again.special_tokens == {EOT: 50256}
    assert again.pattern == GPT2_SPLIT_PATTERN
    assert again.merges == []
    assert again.encode("Hello world") == [15496, 995]


def test_file_is_json_with_one_token_per_line(tok, saved):
    raw = saved.read_text(encoding="utf-8")
    data = json.loads(raw)
    assert data["format"] == "groundup-bpe"
    assert data["version"] == 1
    assert data["pattern"] == tok.pattern
    assert data["special_tokens"] == tok.special_tokens
    assert len(data["tokens"]) == len(tok.ranks)
    assert len(data["merges"]) == len(tok.merges)
    lines = raw.split("\n")
    token_lines = [line for line in lines if re.match(r"^\s+\[\d+, \"[0-9a-f]*\", ", line)]
    assert len(token_lines) == len(tok.ranks)  # each token on a line of its own
    for line in token_lines:
        token_id, hex_bytes, readable = json.loads(line.strip().rstrip(","))
        assert tok.token_bytes(token_id) == bytes.fromhex(hex_bytes)
        assert readable == bytes.fromhex(hex_bytes).decode("utf-8", errors="replace")


def test_file_shows_readable_tokens(tok, saved):
    raw = saved.read_text(encoding="utf-8")
    assert b" the" in tok.ranks
    assert '" the"]' in raw  # readable, not only hex
    assert '"20746865", " the"' in raw
    # non-ASCII tokens are shown as characters, not escapes
    non_ascii = [t.decode() for t in tok.ranks if len(t) > 1 and max(t) > 127 and _is_utf8(t)]
    assert non_ascii
    for text in non_ascii:
        assert json.dumps(text, ensure_ascii=False) in raw
    assert "<|endoftext|>" in raw


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_saving_twice_gives_identical_files(tok, tmp_path):
    tok.save(tmp_path / "a.json")
    BPETokenizer.load(tmp_path / "a.json").save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


# ------------------------------------------------------------------ atomic writes
def test_save_leaves_no_temporary_files(tok, tmp_path):
    tok.save(tmp_path / "tok.json")
    tok.save(tmp_path / "tok.json")  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.json"]


def test_save_creates_parent_folders(tok, tmp_path):
    path = tmp_path / "a" / "b" / "tok.json"
    tok.save(path)
    assert BPETokenizer.load(path).ranks == tok.ranks


@pytest.mark.parametrize("fail_in", ["replace", "fsync", "write"])
def test_failed_save_keeps_the_old_file(tok, tmp_path, monkeypatch, fail_in):
    path = tmp_path / "tok.json"
    old = BPETokenizer.train("an older, smaller tokenizer", 260)
    old.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    if fail_in == "replace":
        monkeypatch.setattr(os, "replace", boom)
    elif fail_in == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])  # half the bytes reach the temp file
                raise OSError("disk full (simulated)")

            def __getattr__(self, name):
                return getattr(self.f, name)

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))

    with pytest.raises(OSError, match="simulated"):
        tok.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert BPETokenizer.load(path).ranks == old.ranks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok.json"]


def test_interrupted_save_cleans_up(tok, tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tok.save(tmp_path / "tok.json")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ damaged files
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.33, 0.5, 0.77, 0.9, 0.999])
def test_truncated_file_is_a_clear_error(saved, fraction):
    raw = saved.read_bytes()
    cut = int(len(raw.rstrip()) * fraction)
    saved.write_bytes(raw[:cut])
    with pytest.raises(TokenizerFileError, match="truncated or corrupted"):
        BPETokenizer.load(saved)


def test_file_cut_inside_a_multibyte_character(tok, saved):
    raw = saved.read_bytes()
    i = raw.index("本".encode()) if "本".encode() in raw else raw.index(b"\xef\xbf\xbd")
    saved.write_bytes(raw[: i + 1])  # ends with half a character
    with pytest.raises(TokenizerFileError, match=str(saved.name)):
        BPETokenizer.load(saved)


def _edit(path: Path, old: str, new: str) -> None:
    raw = path.read_text(encoding="utf-8")
    assert raw.count(old) >= 1, old
    path.write_text(raw.replace(old, new, 1), encoding="utf-8")


def test_flipped_hex_digit_is_a_checksum_error(tok, saved):
    token_id = tok.ranks[b" the"]
    _edit(saved, f'[{token_id}, "20746865"', f'[{token_id}, "20746866"')
    json.loads(saved.read_text(encoding="utf-8"))  # still valid JSON
    with pytest.raises(TokenizerFileError, match="checksum"):
        BPETokenizer.load(saved)


@pytest.mark.parametrize(
    "edit",
    ["token id", "merge count", "merge pair", "special id", "pattern", "drop token", "checksum"],
)
def test_edits_are_checksum_errors(tok, saved, edit):
    data = json.loads(saved.read_text(encoding="utf-8"))
    if edit == "token id":
        data["tokens"][300][0] += 1000
    elif edit == "merge count":
        data["merges"][5][2] += 1
    elif edit == "merge pair":
        data["merges"][5][0], data["merges"][5][1] = data["merges"][5][1], data["merges"][5][0]
    elif edit == "special id":
        data["special_tokens"][EOT] += 10
    elif edit == "pattern":
        data["pattern"] = data["pattern"].replace("{1,3}", "{1,4}")
    elif edit == "drop token":
        del data["tokens"][-1]
    else:
        data["checksum"] = data["checksum"][:-1] + ("0" if data["checksum"][-1] != "0" else "1")
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="checksum mismatch"):
        BPETokenizer.load(saved)


def test_readable_column_is_not_checked(tok, saved):
    # documented: the hex is what counts, the text is for people
    _edit(saved, '"20746865", " the"]', '"20746865", " THE (edited by hand)"]')
    assert BPETokenizer.load(saved).ranks == tok.ranks


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version_is_named(saved, version):
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["version"] = version
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=re.escape(f"version {version!r}")):
        BPETokenizer.load(saved)


@pytest.mark.parametrize("fmt", ["tiktoken", "", None, 1])
def test_wrong_format_field(saved, fmt):
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["format"] = fmt
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="not a groundup-bpe tokenizer file"):
        BPETokenizer.load(saved)


@pytest.mark.parametrize(
    "field", ["format", "pattern", "special_tokens", "tokens", "merges", "checksum"]
)
def test_missing_field(saved, field):
    data = json.loads(saved.read_text(encoding="utf-8"))
    del data[field]
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError):
        BPETokenizer.load(saved)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.update(tokens=[[0]]),
        lambda d: d.update(tokens="not a list"),
        lambda d: d.update(merges=[[1, 2]]),
        lambda d: d.update(special_tokens=["<|endoftext|>"]),
        lambda d: d.update(special_tokens={EOT: "many"}),
    ],
    ids=["short-token", "tokens-str", "short-merge", "specials-list", "special-id-str"],
)
def test_malformed_fields(saved, mangle):
    data = json.loads(saved.read_text(encoding="utf-8"))
    mangle(data)
    saved.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="malformed"):
        BPETokenizer.load(saved)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json at all", b"[1, 2, 3]", b'"a string"', b"\xff\xfe\x00garbage", b"{}"],
    ids=["empty", "text", "list", "string", "binary", "empty-object"],
)
def test_not_a_tokenizer_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TokenizerFileError, match="bad.json"):
        BPETokenizer.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        BPETokenizer.load(tmp_path / "nope.json")


def test_tokenizer_file_error_is_a_value_error():
    assert issubclass(TokenizerFileError, ValueError)


# ------------------------------------------------------------------ GPT-2 files
@pytest.fixture(scope="module")
def gpt2_texts(shared_data) -> tuple[str, str]:
    return (
        (shared_data / "gpt2" / "encoder.json").read_text(encoding="utf-8"),
        (shared_data / "gpt2" / "vocab.bpe").read_text(encoding="utf-8"),
    )


def _load_modified(tmp_path: Path, encoder: str, vocab: str) -> BPETokenizer:
    (tmp_path / "encoder.json").write_text(encoder, encoding="utf-8")
    (tmp_path / "vocab.bpe").write_text(vocab, encoding="utf-8")
    return load_gpt2_files(tmp_path / "encoder.json", tmp_path / "vocab.bpe")


def test_unmodified_copies_load(tmp_path, gpt2_texts):
    tok = _load_modified(tmp_path, *gpt2_texts)
    assert tok.encode("Hello world") == [15496, 995]


def test_swapped_merges_are_rejected(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    lines = vocab.split("\n")
    lines[10], lines[11] = lines[11], lines[10]
    with pytest.raises(TokenizerFileError, match="merge 9 .* disagrees"):
        _load_modified(tmp_path, encoder, "\n".join(lines))


def test_missing_version_header_shifts_every_merge(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    with pytest.raises(TokenizerFileError, match="disagrees"):
        _load_modified(tmp_path, encoder, vocab.split("\n", 1)[1])


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_vocab_bpe_at_a_line_break(tmp_path, gpt2_texts, keep):
    encoder, vocab = gpt2_texts
    lines = vocab.split("\n")
    cut = "\n".join(lines[: int(len(lines) * keep)]) + "\n"
    with pytest.raises(TokenizerFileError, match="merges"):
        _load_modified(tmp_path, encoder, cut)


def test_truncated_vocab_bpe_mid_line(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    cut = vocab[: len(vocab) // 2]
    cut = cut[: cut.rindex(" ")]  # ends with the first half of a merge line
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, encoder, cut)


def test_vocab_bpe_with_three_fields_or_unknown_characters(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    lines = vocab.split("\n")
    three = lines.copy()
    three[100] = three[100] + " extra"
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, encoder, "\n".join(three))
    unknown = lines.copy()
    unknown[100] = "Ġ ☃"  # not a character of GPT-2's byte alphabet
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, encoder, "\n".join(unknown))


def test_encoder_with_a_changed_id(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    enc = json.loads(encoder)
    a, b = "Ġthe", "Ġa"
    enc[a], enc[b] = enc[b], enc[a]
    with pytest.raises(TokenizerFileError, match="disagrees"):
        _load_modified(tmp_path, json.dumps(enc), vocab)


def test_encoder_missing_a_token(tmp_path, gpt2_texts):
    encoder, vocab = gpt2_texts
    enc = json.loads(encoder)
    del enc["!"]  # a single byte
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, json.dumps(enc), vocab)
    enc = json.loads(encoder)
    del enc["Ġthe"]  # a merged token
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, json.dumps(enc), vocab)


@pytest.mark.parametrize(
    "encoder", ["not json", "[1, 2, 3]", '{"a": 0'], ids=["text", "list", "truncated"]
)
def test_encoder_not_json_object(tmp_path, gpt2_texts, encoder):
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, encoder, gpt2_texts[1])


def test_mismatched_pair_of_files(tmp_path, gpt2_texts):
    # a vocab.bpe that belongs to a different (here: smaller, reordered) encoder
    encoder, vocab = gpt2_texts
    lines = vocab.split("\n")
    other = "\n".join([lines[0], *reversed(lines[1:200])])
    with pytest.raises(TokenizerFileError):
        _load_modified(tmp_path, encoder, other)
