"""The site's training text (`groundup.corpus`), the build cache (`groundup.cache`),
the cached site tokenizer (`groundup.site`) and atomic writes (`groundup.atomic`)."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from groundup import atomic, cache, corpus, site
from groundup.tokenizer import BPETokenizer


@pytest.fixture
def cache_in_tmp(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(folder))
    return folder


# ------------------------------------------------------------------ default corpus
# The sha256 of `default_corpus()`: the same on every Python 3.10 to 3.13, since the text
# comes from the shipped snapshot, not from the running Python's own documentation.
CORPUS_SHA256 = "c9c5dd0306b0569e6f6484f2911600be1d557033b76a6f3c1bb7950b9bc77545"
# Training tokens of the corpus this snapshot replaced (Python 3.11.7's pydoc topics, the
# first 90% of the text, encoded with the site tokenizer trained on it): 99,006.
PREVIOUS_TRAINING_TOKENS = 99_006


def test_default_corpus_is_the_same_text_on_every_python():
    assert hashlib.sha256(corpus.default_corpus().encode("utf-8")).hexdigest() == CORPUS_SHA256


def test_default_corpus_is_documentation_and_standard_library_sources():
    docs = corpus.default_documents()
    names = [name for name, _ in docs]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {n.split("/")[0] for n in names} == {"topics", "stdlib"}
    assert "topics/assert" in names and "stdlib/json/decoder.py" in names
    assert not any(
        "/test/" in n or "/idlelib/" in n or "/_" in n.replace("/__", "/") for n in names
    )
    text = corpus.default_corpus()
    assert 7_000_000 < len(text.encode("utf-8")) < 12_000_000
    assert text.endswith("\n") and text == corpus.join_documents(docs)
    words = text.lower().split()
    for common in ("the", "of", "and", "is", "a", "to"):
        assert words.count(common) > 5_000, common


def test_snapshot_metadata_names_its_source():
    meta = corpus.snapshot_metadata()
    assert meta["python_version"] == "3.11.7" and "PSF" in str(meta["license"])
    assert meta["documents"] == len(corpus.default_documents())


def _broken_copy(tmp_path: Path, edit) -> tuple[Path, Path]:
    path, meta = tmp_path / corpus.SNAPSHOT.name, tmp_path / corpus.SNAPSHOT_META.name
    path.write_bytes(edit(corpus.SNAPSHOT.read_bytes()))
    meta.write_bytes(corpus.SNAPSHOT_META.read_bytes())
    return path, meta


def test_snapshot_checksum_is_verified(tmp_path):
    path, meta = _broken_copy(tmp_path, lambda b: b)
    assert corpus.read_snapshot(path, meta) == corpus.default_documents()

    def flip(data: bytes) -> bytes:
        return data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]

    path, meta = _broken_copy(tmp_path, flip)
    with pytest.raises(corpus.CorruptCorpusError, match="damaged: sha256"):
        corpus.read_snapshot(path, meta)
    path, meta = _broken_copy(tmp_path, lambda b: b[:-100])  # truncated
    with pytest.raises(corpus.CorruptCorpusError, match="damaged"):
        corpus.read_snapshot(path, meta)


def test_snapshot_text_checksum_is_verified(tmp_path):
    import json
    import lzma

    raw = lzma.decompress(corpus.SNAPSHOT.read_bytes())
    path, meta = tmp_path / "c.json.xz", tmp_path / "c.meta.json"
    path.write_bytes(lzma.compress(raw.replace(b"the", b"teh", 1)))  # re-packed, edited text
    record = json.loads(corpus.SNAPSHOT_META.read_text())
    record["xz_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta.write_text(json.dumps(record))
    with pytest.raises(corpus.CorruptCorpusError, match="holds other text"):
        corpus.read_snapshot(path, meta)


def test_snapshot_is_in_the_package_data():
    import fnmatch

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["groundup"]
    package = root / "code" / "groundup"
    for path in (corpus.SNAPSHOT, corpus.SNAPSHOT_META, package / "data" / "LICENSE-PSF.txt"):
        rel = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), rel


def test_default_corpus_is_deterministic_across_processes():
    digest = hashlib.sha256(corpus.default_corpus().encode()).hexdigest()
    code = (
        "import hashlib; from groundup.corpus import default_corpus; "
        "print(hashlib.sha256(default_corpus().encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == digest
    assert corpus.default_corpus() == corpus.default_corpus()


def test_load_corpus_none_is_the_default():
    assert corpus.load_corpus(None) == corpus.default_corpus()
    assert corpus.load_corpus() == corpus.default_corpus()


def test_load_corpus_reads_a_local_file(tmp_path):
    path = tmp_path / "my corpus.txt"
    text = "Hello, wörld!\n日本語\r\nthird line\n"
    path.write_bytes(text.encode("utf-8"))
    assert corpus.load_corpus(path) == path.read_text(encoding="utf-8")
    assert corpus.load_corpus(str(path)) == corpus.load_corpus(path)
    assert "日本語" in corpus.load_corpus(path)


def test_load_corpus_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="corpus file not found.*nope.txt"):
        corpus.load_corpus(missing)
    with pytest.raises(FileNotFoundError):
        corpus.load_corpus(tmp_path)  # a folder is not a corpus file


# ------------------------------------------------------------------ downloads
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_url_when_offline_is_a_clear_connection_error(cache_in_tmp):
    url = f"http://127.0.0.1:{_closed_port()}/corpus.txt"
    with pytest.raises(ConnectionError) as info:
        corpus.load_corpus(url)
    message = str(info.value)
    assert url in message
    assert "offline" in message
    assert "source=None" in message  # says what to do instead
    # nothing half-downloaded is left in the cache
    assert not any(p.is_file() for p in cache_in_tmp.rglob("*"))


class _Server:
    """A local HTTP server that counts requests (never a public address)."""

    def __init__(self, body: bytes) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/corpus.txt"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def test_download_is_cached_and_reused_without_network(cache_in_tmp):
    body = "Downloaded text, with ünïcode.\n".encode() * 100
    server = _Server(body)
    try:
        assert corpus.load_corpus(server.url) == body.decode()
        assert server.requests == 1
        assert corpus.load_corpus(server.url) == body.decode()
        assert server.requests == 1  # the second call did not ask the server
    finally:
        server.stop()
    # server gone: the cached copy still answers
    assert corpus.load_corpus(server.url) == body.decode()
    cached = [p for p in cache_in_tmp.rglob("*") if p.is_file()]
    assert len(cached) == 1
    assert cached[0].read_bytes() == body
    assert not any(p.name.endswith(".tmp") for p in cache_in_tmp.rglob("*"))


def test_prepopulated_cache_file_is_used(cache_in_tmp):
    server = _Server(b"original\n")
    try:
        corpus.load_corpus(server.url)
    finally:
        server.stop()
    (cached,) = [p for p in cache_in_tmp.rglob("*") if p.is_file()]
    cached.write_bytes("prepared by hand, offline ✓\n".encode())
    assert corpus.load_corpus(server.url) == "prepared by hand, offline ✓\n"
    # a different URL has a different cache entry, so it does need the network
    with pytest.raises(ConnectionError):
        corpus.load_corpus(server.url + "?v=2")


# ------------------------------------------------------------------ split_corpus
@pytest.mark.parametrize("holdout", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_split_corpus_cuts_at_the_last_line_break_before_the_target(holdout):
    text = "".join(f"line {i} {'x' * (i % 17)}\n" for i in range(1000))
    train, held = corpus.split_corpus(text, holdout)
    assert train + held == text
    target = int(len(text) * (1 - holdout))
    assert train.endswith("\n")
    assert len(train) <= target
    assert "\n" not in text[len(train) : target]  # no later line break before the target
    assert abs(len(held) / len(text) - holdout) < 0.01


def test_split_corpus_default_is_ten_percent(shakespeare):
    train, held = corpus.split_corpus(shakespeare)
    assert train + held == shakespeare
    assert 0.09 < len(held) / len(shakespeare) < 0.11
    assert train.endswith("\n")


def test_split_corpus_without_line_breaks_is_still_a_partition():
    train, held = corpus.split_corpus("no line breaks at all", 0.5)
    assert train + held == "no line breaks at all"


@pytest.mark.parametrize("holdout", [0.0, 1.0, -0.1, 1.5])
def test_split_corpus_rejects_bad_holdout(holdout):
    with pytest.raises(ValueError, match="holdout"):
        corpus.split_corpus("a\nb\nc\n", holdout)


def test_site_corpus_holds_out_whole_documents():
    train_docs, held_docs = corpus.split_documents(corpus.default_documents())
    train_names = {n for n, _ in train_docs}
    held_names = {n for n, _ in held_docs}
    assert train_names.isdisjoint(held_names)
    assert train_names | held_names == {n for n, _ in corpus.default_documents()}
    assert 0.05 < len(held_names) / (len(train_names) + len(held_names)) < 0.15
    train, held = site.site_corpus()
    assert (train, held) == (corpus.join_documents(train_docs), corpus.join_documents(held_docs))
    assert 0.04 < len(held) / (len(train) + len(held)) < 0.15
    for _, text in held_docs[:20]:  # no held-out document is (part of) a training one
        assert text not in train


def test_held_out_documents_are_chosen_by_name():
    docs = [(f"doc{i}", f"text {i}\n") for i in range(2000)]
    train, held = corpus.split_documents(docs, 0.1)
    assert 150 < len(held) < 250 and len(train) + len(held) == 2000
    assert corpus.split_documents(docs[:1000], 0.1)[1] == [d for d in held if d in docs[:1000]]
    with pytest.raises(ValueError, match="holdout"):
        corpus.split_documents(docs, 1.0)


def test_site_corpus_is_at_least_ten_times_the_previous_one_and_seen_less_than_once():
    train, _ = site.site_corpus()
    tokens = len(site.site_tokenizer().encode_ordinary(train))
    assert tokens >= 10 * PREVIOUS_TRAINING_TOKENS
    seen = site.SITE_TRAINING["max_steps"] * site.SITE_TRAINING["batch_size"]
    assert tokens > seen * site.SITE_TRAINING["block_size"]


# ------------------------------------------------------------------ held_out_sentence
HELD = """Some heading:

This paragraph has two sentences. It is skipped because of that.

Too short to pick.

This line is wrapped across two
lines and is one sentence.

A later sentence of the right length that comes too late.
"""


def test_held_out_sentence_is_the_first_one_sentence_paragraph_joined_up():
    sentence = corpus.held_out_sentence("unrelated training text\n", HELD)
    assert sentence == "This line is wrapped across two lines and is one sentence."


def test_held_out_sentence_skips_sentences_the_training_text_contains():
    train = "Seen before: This line is wrapped\nacross two lines and is one sentence.\n"
    assert corpus.held_out_sentence(train, HELD) == (
        "A later sentence of the right length that comes too late."
    )


def test_held_out_sentence_honours_the_word_range():
    assert corpus.held_out_sentence("", HELD, words=(3, 4)) == "Too short to pick."


def test_held_out_sentence_says_when_there_is_none():
    with pytest.raises(ValueError, match="one-sentence paragraph of 8 to 14 words"):
        corpus.held_out_sentence(HELD, HELD)


def test_site_held_out_sentence_is_in_the_held_out_text_only():
    train, held = site.site_corpus()
    sentence = corpus.held_out_sentence(train, held)
    assert sentence in " ".join(held.split())
    assert sentence not in " ".join(train.split())


# ------------------------------------------------------------------ cache
def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "cache"
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(target))
    assert cache.cache_dir() == target
    assert target.is_dir()  # created on first use
    assert cache.cache_path("thing", {"a": 1}, suffix=".json").parent == target


def test_cache_dir_defaults_to_dot_cache_in_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("GROUNDUP_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cache.cache_dir() == tmp_path / ".cache" / "groundup"
    assert (tmp_path / ".cache" / "groundup").is_dir()


def test_fingerprint_depends_on_inputs():
    base = cache.fingerprint({"vocab": 4096, "pattern": "x"})
    assert base == cache.fingerprint({"pattern": "x", "vocab": 4096})  # key order is irrelevant
    assert len(base) == 20 and int(base, 16) >= 0
    assert base != cache.fingerprint({"vocab": 4097, "pattern": "x"})
    assert base != cache.fingerprint({"vocab": 4096, "pattern": "y"})
    assert base != cache.fingerprint({"vocab": 4096})
    assert cache.fingerprint([1, 2]) != cache.fingerprint([2, 1])


def _module_from(path: Path, name: str, source: str):
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fingerprint_depends_on_code_source(tmp_path):
    one = _module_from(tmp_path / "gu_fp_one.py", "gu_fp_one", "def f():\n    return 1\n")
    two = _module_from(tmp_path / "gu_fp_two.py", "gu_fp_two", "def f():\n    return 2\n")
    same = _module_from(tmp_path / "gu_fp_same.py", "gu_fp_same", "def f():\n    return 1\n")
    inputs = {"a": 1}
    plain = cache.fingerprint(inputs)
    with_one = cache.fingerprint(inputs, [one])
    assert with_one != plain
    assert with_one != cache.fingerprint(inputs, [two])
    assert with_one == cache.fingerprint(inputs, [same])  # only the source text counts
    assert cache.fingerprint(inputs, [one, two]) != cache.fingerprint(inputs, [two, one])


def test_fingerprint_follows_edits_to_a_module(tmp_path):
    path = tmp_path / "gu_fp_edit.py"
    module = _module_from(path, "gu_fp_edit", "X = 1\n")
    before = cache.fingerprint({}, [module])
    path.write_text("X = 1  # edited, and longer\n", encoding="utf-8")
    assert cache.fingerprint({}, [module]) != before


def test_cache_path_names(cache_in_tmp):
    p = cache.cache_path("tokenizer", {"v": 1}, suffix=".json")
    assert p.parent == cache_in_tmp
    assert p.name.startswith("tokenizer-") and p.name.endswith(".json")
    assert p.name == f"tokenizer-{cache.fingerprint({'v': 1})}.json"
    assert not p.exists()


# ------------------------------------------------------------------ memoizing
def test_memoized_remembers_one_result_per_cache_folder_and_arguments(tmp_path, monkeypatch):
    calls: list[tuple[object, ...]] = []

    @cache.Memoized
    def load(n: int, options: dict | None = None) -> list[object]:
        """Docstring kept."""
        calls.append((n, options))
        return [n, options]

    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "a"))
    first = load(1, {"x": [1, 2]})
    assert load(1, {"x": [1, 2]}) is first  # equal dicts: the same entry
    assert load(1, options={"x": [1, 2]}) is not first  # a keyword is another call
    assert load(2) == [2, None]
    assert calls == [(1, {"x": [1, 2]}), (1, {"x": [1, 2]}), (2, None)]
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "b"))
    assert load(1, {"x": [1, 2]}) is not first  # another cache folder: loaded again
    assert len(calls) == 4
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "a"))
    assert load(1, {"x": [1, 2]}) is first
    load.cache_clear()
    assert load(1, {"x": [1, 2]}) is not first
    assert len(calls) == 5
    assert load.__doc__ == "Docstring kept."


def test_frozen_keys_tell_containers_apart():
    assert cache._frozen({"a": [1]}) == cache._frozen({"a": [1]})
    assert cache._frozen({"a": [1]}) != cache._frozen({"a": (1,)})
    assert cache._frozen({1: 2}) != cache._frozen({"1": 2})
    hash(cache._frozen({"b": {"c": [1, {"d": 2}]}}))


# ------------------------------------------------------------------ site tokenizer
def test_site_tokenizer_trains_once_then_loads_from_disk(cache_in_tmp, monkeypatch):
    first = site.site_tokenizer(vocab_size=300)
    files = list(cache_in_tmp.glob("tokenizer-*.json"))
    assert len(files) == 1
    assert BPETokenizer.load(files[0]).ranks == first.ranks

    def no_training(*args, **kwargs):
        raise AssertionError("train was called although the tokenizer is cached")

    loads: list[str | Path] = []
    real_load = BPETokenizer.load  # bound to BPETokenizer before it is replaced

    def counting_load(cls: type[BPETokenizer], p: str | Path) -> BPETokenizer:
        loads.append(p)
        return real_load(p)

    monkeypatch.setattr(BPETokenizer, "train", classmethod(no_training))
    monkeypatch.setattr(BPETokenizer, "load", classmethod(counting_load))
    assert site.site_tokenizer(vocab_size=300) is first  # this process has it already
    assert loads == []
    site.site_tokenizer.cache_clear()  # as a new process: loaded from disk, once
    second = site.site_tokenizer(vocab_size=300)
    assert site.site_tokenizer(vocab_size=300) is second
    assert loads == [files[0]]
    assert second.ranks == first.ranks
    assert second.merges == first.merges
    assert second.special_tokens == first.special_tokens == {"<|endoftext|>": 299}
    # other inputs are another cache entry: that one would have to be trained
    with pytest.raises(AssertionError, match="train was called"):
        site.site_tokenizer(vocab_size=301)
    with pytest.raises(AssertionError, match="train was called"):
        site.site_tokenizer(vocab_size=300, special_tokens=())


def test_site_tokenizer_is_memoized_per_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "one"))
    one = site.site_tokenizer(vocab_size=290)
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "two"))
    two = site.site_tokenizer(vocab_size=290)
    assert two is not one  # trained again for the other folder, not the first one's
    assert len(list((tmp_path / "two").glob("tokenizer-*.json"))) == 1
    assert two.ranks == one.ranks
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(tmp_path / "one"))
    assert site.site_tokenizer(vocab_size=290) is one


def test_site_tokenizer_is_trained_on_the_site_training_text(cache_in_tmp):
    tok = site.site_tokenizer(vocab_size=320)
    train, _ = site.site_corpus()
    direct = BPETokenizer.train(train, 320, special_tokens=["<|endoftext|>"])
    assert tok.merges == direct.merges
    assert tok.ranks == direct.ranks


def test_site_tokenizer_cache_key_includes_the_tokenizer_code():
    # editing the trainer or encoder must invalidate the cached tokenizer
    import groundup.tokenizer.bpe
    import groundup.tokenizer.train

    assert groundup.tokenizer.train in site._TOKENIZER_CODE
    assert groundup.tokenizer.bpe in site._TOKENIZER_CODE


# ------------------------------------------------------------------ atomic writes
def test_atomic_writes_leave_only_the_file(tmp_path):
    atomic.atomic_write_text(tmp_path / "a.txt", "héllo\n")
    atomic.atomic_write_bytes(tmp_path / "b.bin", b"\x00\xff")
    atomic.atomic_write_text(tmp_path / "a.txt", "second version\n")
    atomic.atomic_write_bytes(tmp_path / "sub" / "c.bin", b"nested")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "second version\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert (tmp_path / "sub" / "c.bin").read_bytes() == b"nested"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.bin", "c.bin", "sub"]


def test_atomic_write_text_is_utf8(tmp_path):
    atomic.atomic_write_text(tmp_path / "u.txt", "日本語 ✓")
    assert (tmp_path / "u.txt").read_bytes() == "日本語 ✓".encode()


def test_failed_atomic_write_keeps_old_content_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    atomic.atomic_write_bytes(path, b"old")

    def boom(*args):
        raise OSError("simulated failure")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        atomic.atomic_write_bytes(path, b"new" * 1000)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_cached_json_computes_once_then_reads_the_file(cache_in_tmp):
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"loss": 1.5, "pair": (1, 2)}

    first = cache.cached_json("toy-result", {"n": 1}, (atomic,), compute)
    second = cache.cached_json("toy-result", {"n": 1}, (atomic,), compute)
    assert calls == [1]
    assert first == second == {"loss": 1.5, "pair": [1, 2]}  # a tuple comes back a list
    assert cache.cached_json("toy-result", {"n": 2}, (atomic,), compute) == first
    assert calls == [1, 1]  # other inputs: computed again
    assert len(list(Path(cache_in_tmp).glob("toy-result-*.json"))) == 2


def test_cached_json_records_computed_then_loaded(cache_in_tmp):
    cache.TIMINGS.clear()
    cache.cached_json("toy-timing", {}, (), lambda: [1])
    cache.cached_json("toy-timing", {}, (), lambda: [1])
    assert [(t.name, t.computed) for t in cache.TIMINGS] == [
        ("toy timing", True),
        ("toy timing", False),
    ]
