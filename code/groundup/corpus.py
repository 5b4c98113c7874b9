"""Training text for the site: built in, a local file, or a URL downloaded once.

The default corpus is the English documentation CPython ships in
`pydoc_data.topics` (about 465 KB), so the site builds offline on any Python.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

from groundup.atomic import atomic_write_bytes
from groundup.cache import cache_dir


def default_corpus() -> str:
    """CPython's bundled documentation topics, joined in a fixed (sorted) order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip() for name in sorted(topics)) + "\n"


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
