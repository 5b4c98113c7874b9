"""Training text for the site: built in, a local file, or a URL downloaded once.

The default corpus is a snapshot shipped inside the package (`groundup/data/`, about
1.6 MB of xz): the documentation topics of CPython 3.11.7's `pydoc_data.topics` and the
source files (docstrings, comments, code) of its standard library's public modules,
under the PSF License. Being a file, not the running Python's own text, it is the same
on every Python; its sha256 is checked at every load. `tools/snapshot_corpus.py`
regenerates it.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path

from groundup.atomic import atomic_write_bytes
from groundup.cache import cache_dir

SNAPSHOT = Path(__file__).resolve().parent / "data" / "corpus.json.xz"
SNAPSHOT_META = SNAPSHOT.with_name("corpus.meta.json")


class CorruptCorpusError(ValueError):
    """The shipped corpus snapshot does not match the checksum recorded beside it."""


def read_snapshot(
    path: Path = SNAPSHOT, meta_path: Path = SNAPSHOT_META
) -> tuple[tuple[str, str], ...]:
    """The snapshot's documents, as (name, text) pairs sorted by name.

    Raises `CorruptCorpusError` when the file's sha256, or that of the text inside it,
    differs from the one recorded in `meta_path` (a damaged or edited snapshot).
    """
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    packed = path.read_bytes()
    digest = hashlib.sha256(packed).hexdigest()
    if digest != meta["xz_sha256"]:
        raise CorruptCorpusError(
            f"corpus snapshot {path} is damaged: sha256 {digest}, expected {meta['xz_sha256']} "
            f"(reinstall groundup, or regenerate it with tools/snapshot_corpus.py)"
        )
    raw = lzma.decompress(packed, format=lzma.FORMAT_XZ)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != meta["json_sha256"]:
        raise CorruptCorpusError(
            f"corpus snapshot {path} holds other text: sha256 {digest}, "
            f"expected {meta['json_sha256']}"
        )
    return tuple((name, text) for name, text in json.loads(raw.decode("utf-8")))


def snapshot_metadata(meta_path: Path = SNAPSHOT_META) -> dict[str, object]:
    """What `corpus.meta.json` records: the source Python, license, sizes and checksums."""
    meta: dict[str, object] = json.loads(meta_path.read_text(encoding="utf-8"))
    return meta


@cache
def default_documents() -> tuple[tuple[str, str], ...]:
    """The built-in corpus as (name, text) documents, sorted by name (checked, cached)."""
    return read_snapshot()


def default_corpus() -> str:
    """The built-in corpus as one text: its documents in order, a blank line between."""
    return join_documents(default_documents())


def join_documents(documents: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    """The texts of `documents`, in order, separated by a blank line."""
    return "\n".join(text for _, text in documents)


def is_heldout_document(name: str, holdout: float = 0.1) -> bool:
    """Whether the document `name` is held out: its name's sha256 falls in the first `holdout`.

    Chosen by name, not by position, so whole documents are held out (none is cut in
    two) and adding or removing one document moves no other between the splits.
    """
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    value = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return value < holdout * 2**64


def split_documents(
    documents: tuple[tuple[str, str], ...] | list[tuple[str, str]], holdout: float = 0.1
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split documents into (train, held-out) lists by `is_heldout_document`, order kept."""
    train: list[tuple[str, str]] = []
    heldout: list[tuple[str, str]] = []
    for name, text in documents:
        (heldout if is_heldout_document(name, holdout) else train).append((name, text))
    return train, heldout


def load_corpus(source: str | Path | None = None) -> str:
    """Return training text from `source`.

    `None` -> `default_corpus()`; "http(s)://..." -> downloaded once into the
    cache folder (a clear error when offline); anything else -> a local
    UTF-8 text file.
    """
    if source is None:
        return default_corpus()
    source = str(source)
    if source.startswith(("http://", "https://")):
        return _download(source).decode("utf-8")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    return path.read_text(encoding="utf-8")


def _download(url: str) -> bytes:
    target = cache_dir() / "corpus" / hashlib.sha256(url.encode()).hexdigest()[:16]
    if target.exists():
        return target.read_bytes()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(
            f"could not download corpus {url} ({e}); are you offline? "
            f"Use a local file, or the built-in corpus (source=None)."
        ) from e
    atomic_write_bytes(target, data)
    return data


def split_corpus(text: str, holdout: float = 0.1) -> tuple[str, str]:
    """Split into (train, held-out) at a line boundary near `1 - holdout` of the text."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    cut = text.rfind("\n", 0, int(len(text) * (1.0 - holdout))) + 1
    return text[:cut], text[cut:]


_ONE_SENTENCE = re.compile(r"[A-Z][^.!?:;]*\.")  # capitalised, one full stop, at the end


def held_out_sentence(train: str, heldout: str, words: tuple[int, int] = (8, 14)) -> str:
    """The first paragraph of `heldout` that is one short sentence never seen in `train`.

    A paragraph qualifies when, with its whitespace collapsed, it starts with a
    capital letter, ends with its only full stop and has `words[0]` to
    `words[1]` words. Picking it by rule keeps pages right when the corpus
    changes (CPython's documentation differs between releases).
    """
    seen = " ".join(train.split())
    for paragraph in re.split(r"\n\s*\n", heldout):
        sentence = " ".join(paragraph.split())
        if (
            _ONE_SENTENCE.fullmatch(sentence)
            and words[0] <= len(sentence.split()) <= words[1]
            and sentence not in seen
        ):
            return sentence
    raise ValueError(f"no one-sentence paragraph of {words[0]} to {words[1]} words in the text")
