"""An on-disk cache for heavy build-time results (a trained tokenizer, a model).

Entries are keyed by a hash of their inputs *and* of the source code that
produces them, so editing the code or the inputs rebuilds, and nothing else does.
The folder is `$GROUNDUP_CACHE_DIR`, or `.cache/groundup` under the current
directory (ignored by git).

`timed` records how long each such result took and whether it was computed or
loaded, for the build profile (`hooks/build_profile.py`).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterable
from contextlib import ContextDecorator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, ParamSpec, TypeVar

from groundup.atomic import atomic_write_text

P = ParamSpec("P")
R = TypeVar("R")


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
    path = cache_dir() / f"{name}-{fingerprint(inputs, code)}{suffix}"
    _note_lookup(path)
    return path


def cached_json(
    name: str, inputs: object, code: Iterable[ModuleType], compute: Callable[[], Any]
) -> Any:
    """`compute()`, run once for these inputs and code and kept as JSON in the cache
    folder; later calls read the file. The result must survive a JSON round trip
    (dicts with string keys, lists, numbers, strings): a tuple comes back a list."""
    with timed(name.replace("-", " ")):
        path = cache_path(name, inputs, code, suffix=".json")
        if path.exists():
            return json.loads(path.read_text())
        value = compute()
        atomic_write_text(path, json.dumps(value))
        return json.loads(json.dumps(value))  # what a later call will read


# ---------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """One timed call that produced a cached artefact: trained it or loaded it.

    `computed` is True when the call built the artefact, False when it only read it
    from the cache. `depth` is how many timed calls enclosed this one (0: none), so
    that a total over `depth == 0` counts nested work once.
    """

    name: str
    seconds: float = 0.0
    computed: bool | None = None  # None until the call ends (or the caller says)
    depth: int = 0
    missing: list[str] = field(default_factory=list)  # cache paths absent when looked up


TIMINGS: list[Timing] = []
"""Every finished `timed` call of this process, in the order they ended (the build
profile hook, `hooks/build_profile.py`, reads and clears it)."""

_open: list[Timing] = []  # the timed calls running now, innermost last


def _note_lookup(path: Path) -> None:
    if _open and not path.exists():
        _open[-1].missing.append(path.name)


class timed(ContextDecorator):  # noqa: N801 (used as `with timed(...)` and `@timed(...)`)
    """Time a call that trains or loads a cached artefact, and record it in `TIMINGS`.

        with timed("site tokenizer") as record:
            ...
        @timed("site model", missing=lambda *args, **kwargs: summary_path(...))

    Whether it computed: what the caller sets on `record.computed`; else, given
    `missing` (the decorator's arguments -> the file the call produces), whether that
    file was absent when the call began; else whether any `cache_path` looked up inside
    it (not inside a nested timed call) was absent at the time.
    """

    def __init__(self, name: str, missing: Callable[..., Path] | None = None) -> None:
        self.name = name
        self.missing = missing
        self._records: list[tuple[Timing, float]] = []

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:  # type: ignore[override]
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            absent = None if self.missing is None else not self.missing(*args, **kwargs).exists()
            with self as record:
                if absent is not None:
                    record.computed = absent
                return func(*args, **kwargs)

        return wrapper

    def __enter__(self) -> Timing:
        record = Timing(self.name, depth=len(_open))
        _open.append(record)
        self._records.append((record, time.perf_counter()))
        return record

    def __exit__(self, *exc: object) -> None:
        record, started = self._records.pop()
        record.seconds = time.perf_counter() - started
        _open.remove(record)
        if record.computed is None:
            record.computed = bool(record.missing)
        TIMINGS.append(record)


# ---------------------------------------------------------------------------- memoizing
class Memoized(Generic[P, R]):
    """`func` remembered per process: one result per cache folder and arguments.

    For loaders of cached artefacts called from many pages (the site tokenizer is
    asked for about ninety times a build): the first call in a process loads (or
    trains) it, later ones return the same object. The cache folder is part of the
    key, so a test that points `$GROUNDUP_CACHE_DIR` elsewhere gets that folder's
    artefact. Arguments may be dicts and lists (compared by value). The result is
    shared: callers must not mutate it.
    """

    def __init__(self, func: Callable[P, R]) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self._results: dict[object, R] = {}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (str(cache_dir()), _frozen(args), _frozen(kwargs))
        if key not in self._results:
            self._results[key] = self.func(*args, **kwargs)
        return self._results[key]

    def cache_clear(self) -> None:
        """Forget every remembered result (the next call loads again)."""
        self._results.clear()


def _frozen(value: object) -> object:
    """A hashable stand-in for `value`, equal for equal dicts, lists and tuples."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    return value
