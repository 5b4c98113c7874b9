"""An on-disk cache for heavy build-time results (a trained tokenizer, a model).

Entries are keyed by a hash of their inputs *and* of the source code that
produces them, so editing the code or the inputs rebuilds, and nothing else does.
The folder is `$GROUNDUP_CACHE_DIR`, or `.cache/groundup` under the current
directory (ignored by git).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType


def cache_dir() -> Path:
    """The cache folder (created on first use)."""
    path = Path(os.environ.get("GROUNDUP_CACHE_DIR", Path.cwd() / ".cache" / "groundup"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def fingerprint(inputs: object, code: Iterable[ModuleType] = ()) -> str:
    """A short hex digest of JSON-serialisable `inputs` and the source of `code` modules."""
    h = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode("utf-8"))
    for module in code:
        h.update(inspect.getsource(module).encode("utf-8"))
    return h.hexdigest()[:20]


def cache_path(
    name: str, inputs: object, code: Iterable[ModuleType] = (), suffix: str = ""
) -> Path:
    """Where the result `name` for these inputs and this code lives (may not exist yet)."""
    return cache_dir() / f"{name}-{fingerprint(inputs, code)}{suffix}"
