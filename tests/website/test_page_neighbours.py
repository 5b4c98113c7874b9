"""In-text "Previous:"/"Before:" and "Next:" links agree with the navigation.

A page that says "Next: [X](x.md)" must have x.md as the next article in `mkdocs.yml`'s
nav (notebooks and quizzes do not count), and "Previous:" or "Before:" the one before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# the first Markdown link after the word, within the same paragraph or list item
NEIGHBOUR = re.compile(
    r"\b(Previous|Before|Next):(?P<between>(?:(?!\n\s*\n|\n- )[^\[])*)\[[^\]]+\]\((?P<target>[^)#\s]+)"
)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !ENV and friends


def nav_articles() -> list[str]:
    """Every article of the nav, in order (no notebooks, quizzes or chapter indexes)."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    pages: list[str] = []

    def walk(entries: list) -> None:
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            if isinstance(value, list):
                walk(value)
            elif value.endswith(".md") and not value.endswith(("index.md", "quiz.md")):
                pages.append(value)

    walk(config["nav"])
    return pages


ARTICLES = nav_articles()


def neighbour_links(page: str) -> list[tuple[str, str]]:
    text = (DOCS / page).read_text(encoding="utf-8")
    folder = Path(page).parent
    links = []
    for m in NEIGHBOUR.finditer(text):
        target = (folder / m["target"]).as_posix()
        links.append(("next" if m[1] == "Next" else "previous", target))
    return links


def test_the_nav_lists_the_articles() -> None:
    assert "transformer/huggingface.md" in ARTICLES
    assert ARTICLES.index("transformer/huggingface.md") + 1 == ARTICLES.index(
        "transformer/layers-blocks-heads.md"
    )


def test_the_pattern_finds_links_across_lines() -> None:
    text = "- Before: [A](a.md). Next: the rows are what\n  [B](b.md) adds.\n\nNext: [C](c.md)"
    assert [(m[1], m["target"]) for m in NEIGHBOUR.finditer(text)] == [
        ("Before", "a.md"),
        ("Next", "b.md"),
        ("Next", "c.md"),
    ]


@pytest.mark.parametrize("page", ARTICLES)
def test_previous_and_next_follow_the_nav(page: str) -> None:
    i = ARTICLES.index(page)
    for direction, target in neighbour_links(page):
        j = i + 1 if direction == "next" else i - 1
        expected = ARTICLES[j] if 0 <= j < len(ARTICLES) else None
        assert target == expected, (
            f"{page} says its {direction} page is {target}; the nav says {expected}"
        )
