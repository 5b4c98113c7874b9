"""Regenerate the site corpus snapshot, `code/groundup/data/corpus.json.xz`.

    python tools/snapshot_corpus.py          # writes the snapshot and its metadata

The corpus is text every CPython install ships, under the PSF License:

- the documentation topics of `pydoc_data.topics` (one document per topic), and
- the source files of the standard library's public modules (one document per file):
  their docstrings, comments and code. Tests, IDLE, the turtle demos, lib2to3, the
  codec tables of `encodings`, `pydoc_data` itself, `site-packages` and every private
  module or package (a name that starts with `_`) are left out.

The output is deterministic for a given Python: documents sorted by name, JSON with
sorted keys, xz at a fixed preset (no timestamps in the container), and the metadata
records the sha256 of the text and of the file, which `groundup.corpus` verifies at load.
Run it with the Python the snapshot should come from (the shipped one: 3.11.7).
"""

from __future__ import annotations

import ast
import hashlib
import json
import lzma
import platform
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "code" / "groundup" / "data"
SKIP_FOLDERS = {
    "test",
    "tests",
    "idle_test",
    "idlelib",
    "turtledemo",
    "lib2to3",
    "encodings",
    "pydoc_data",
    "site-packages",
    "ensurepip",
    "__pycache__",
}
XZ_PRESET = 9  # fixed: the same Python and liblzma give the same bytes


def stdlib_root() -> Path:
    """The standard library's folder of the running (base) Python."""
    return Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def is_public_source(rel: Path) -> bool:
    """A public, non-test module of the standard library (`rel`: its path under the root)."""
    if rel.suffix != ".py" or any(part in SKIP_FOLDERS for part in rel.parts):
        return False
    if rel.parts[0].startswith("config-"):  # build configuration, not a module
        return False
    names = [*rel.parts[:-1], rel.stem]
    return not any(n.startswith("_") and n != "__init__" and n != "__main__" for n in names)


def documents() -> list[tuple[str, str]]:
    """(name, text) of every document, sorted by name, duplicates of a text dropped."""
    from pydoc_data.topics import topics

    docs = {f"topics/{name}": topics[name].strip() + "\n" for name in topics}
    root = stdlib_root()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if not is_public_source(rel):
            continue
        text = path.read_text(encoding="utf-8")
        ast.parse(text)  # a file that is not valid Python is a surprise worth stopping for
        text = "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"
        if len(text.split()) >= 20:  # leave out empty `__init__.py` files and stubs
            docs[f"stdlib/{rel.as_posix()}"] = text
    seen: set[str] = set()
    unique = []
    for name in sorted(docs):
        if docs[name] not in seen:
            seen.add(docs[name])
            unique.append((name, docs[name]))
    return unique


def encode(docs: list[tuple[str, str]]) -> bytes:
    """The snapshot's uncompressed bytes: a JSON list of [name, text] pairs."""
    return json.dumps([list(d) for d in docs], ensure_ascii=False, indent=0).encode("utf-8")


def main() -> int:
    docs = documents()
    raw = encode(docs)
    packed = lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=XZ_PRESET)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "corpus.json.xz").write_bytes(packed)
    meta = {
        "source": f"CPython {platform.python_version()}: pydoc_data.topics and the standard "
        "library's public module sources",
        "python_version": platform.python_version(),
        "license": "PSF License Version 2 (see LICENSE-PSF.txt)",
        "documents": len(docs),
        "characters": sum(len(t) for _, t in docs),
        "json_sha256": hashlib.sha256(raw).hexdigest(),
        "xz_sha256": hashlib.sha256(packed).hexdigest(),
        "xz_preset": XZ_PRESET,
    }
    (DATA / "corpus.meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(stdlib_root() / "LICENSE.txt", DATA / "LICENSE-PSF.txt")
    print(json.dumps(meta, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
