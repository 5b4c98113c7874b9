"""Shared fixtures: paths to ../shared/data (present in CI) and small corpora."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from groundup.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

if (SHARED / "tiktoken_cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken_cache"))
os.environ.setdefault("RAYON_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`, which CI provides beside the checkout."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests need the shared data beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def shakespeare(shared_data: Path) -> str:
    return (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")


NOT_LINUX = sys.platform != "linux"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip `@pytest.mark.linux` tests on other systems, saying why (CI runs them on Linux)."""
    if NOT_LINUX:
        skip = pytest.mark.skip(reason=f"needs Linux (/proc or SIGKILL), not {sys.platform}")
        for item in items:
            if item.get_closest_marker("linux"):
                item.add_marker(skip)


def build_site(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Build the real site into `out` with `mkdocs build --strict`, with extra
    environment variables `env` (the cache is `.cache/groundup` unless the caller's
    environment names another)."""
    if NOT_LINUX:  # the benchmarks page measures attention memory through /proc
        pytest.skip(f"the site build needs Linux (/proc), not {sys.platform}")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env={
            **os.environ,
            "NO_MKDOCS_2_WARNING": "1",
            "GROUNDUP_CACHE_DIR": os.environ.get(
                "GROUNDUP_CACHE_DIR", str(ROOT / ".cache" / "groundup")
            ),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def site_port() -> int:
    """The port the real site is built for and the browser tests serve it on:
    `$GROUNDUP_SITE_PORT` (set by tools/check.py, so both of its pytest steps agree), or
    a free port on 127.0.0.1. Material's instant navigation only takes over links that
    the sitemap lists, and those carry the build's `site_url`, port included."""
    return int(os.environ.get("GROUNDUP_SITE_PORT") or _free_port())


def _load_build(folder: Path) -> subprocess.CompletedProcess[str] | None:
    record = folder / "build.json"
    if not record.is_file():
        return None
    saved = json.loads(record.read_text(encoding="utf-8"))
    return subprocess.CompletedProcess(
        saved["args"], saved["returncode"], saved["stdout"], saved["stderr"]
    )


@pytest.fixture(scope="session")
def real_site_build(
    tmp_path_factory: pytest.TempPathFactory, site_port: int
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The real site, built once with `mkdocs build --strict` for
    `http://127.0.0.1:<site_port>/`: (output folder, the finished build process). Every
    test that reads the built pages, the browser tests included, shares this one build
    (it trains nothing once `.cache/groundup` is warm).

    With `$GROUNDUP_SITE_BUILD` (a folder; tools/check.py sets it and empties it first)
    the build and its log are kept there, so the second pytest step reuses the first
    step's build instead of building the same site again."""
    keep = os.environ.get("GROUNDUP_SITE_BUILD")
    if keep:
        folder = Path(keep)
        reused = _load_build(folder)
        if reused is not None:
            return folder / "site", reused
        out = folder / "site"
    else:
        out = tmp_path_factory.mktemp("real-site")
    result = build_site(out, SITE_URL=f"http://127.0.0.1:{site_port}/")
    if keep:
        record = {
            "args": [str(a) for a in result.args],
            "returncode": result.returncode,
            "stdout": result.stdout,
            "stderr": result.stderr,
        }
        atomic_write_text(Path(keep) / "build.json", json.dumps(record))
    return out, result
