"""The pages of a built site, for the tests that visit every one of them."""

from __future__ import annotations

from pathlib import Path


def site_pages(built_site: Path) -> list[str]:
    """Every page of the built site, as a path relative to the site root ('' is home)."""
    pages = sorted(
        ("" if p.parent == built_site else p.parent.relative_to(built_site).as_posix() + "/")
        for p in built_site.rglob("index.html")
    )
    assert len(pages) > 10, f"only {len(pages)} pages found in {built_site}"
    return pages
