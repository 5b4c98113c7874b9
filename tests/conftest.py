"""Shared fixtures: paths to ../shared/data (present in CI) and small corpora."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def real_site_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The real site, built once per test session with `mkdocs build --strict`:
    (output folder, the finished build process). Tests that read the built pages
    share this one build (it trains nothing once `.cache/groundup` is warm)."""
    out = tmp_path_factory.mktemp("real-site")
    return out, build_site(out)


@pytest.fixture(scope="session")
def site_builder() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`build_site`, for conftests further down (the browser tests build for their port)."""
    return build_site
