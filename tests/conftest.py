"""Shared fixtures: paths to ../shared/data (present in CI) and small corpora."""

from __future__ import annotations

import os
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
