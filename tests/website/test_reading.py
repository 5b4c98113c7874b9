"""Reading time, the "mark as read" control and the learning path (hooks/reading.py).

(a) the reading-time function on known HTML; (b) a tiny throwaway Material site with
the hook, to show what is and is not an article (index, quiz, notebook) and that an
article missing from its chapter index fails the strict build; (c) the real site, built
once for this module: every article shows the time the function computes from its
rendered text, each chapter index lists its articles with their times, the home page
maps every chapter, and exactly the articles carry one "Mark as read" button.
"""

from __future__ import annotations

import html
import importlib.util
import json
import posixpath
import re
import sys
from pathlib import Path

import pytest
import yaml

from website.test_docs_build import mkdocs_build, nav_pages, real_config

ROOT = Path(__file__).resolve().parents[2]


def _load_hook():
    spec = importlib.util.spec_from_file_location(
        "groundup_reading_hook", ROOT / "hooks" / "reading.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MkDocs loads hooks (dataclasses need it)
    spec.loader.exec_module(module)
    return module


reading = _load_hook()
stats = reading.reading_stats
minutes = reading.reading_minutes


def words(n: int) -> str:
    return "<p>" + " ".join(f"word{i}" for i in range(n)) + "</p>"


def code(lines: int) -> str:
    body = "\n".join(
        f'<span class="n">x{i}</span> <span class="o">=</span> {i}' for i in range(lines)
    )
    return f'<div class="highlight"><pre><span></span><code>{body}\n</code></pre></div>'


SVG = (
    '<div class="gu-figure"><svg xmlns="http://www.w3.org/2000/svg"><metadata>m</metadata>'
    '<g><text x="1">tick 0.5</text><path d="M 0 0 L 1 1"/></g></svg></div>'
)


# ------------------------------------------------------------------ (a) the function
def test_counts_prose_words():
    s = stats(
        '<h1 id="t">Hello world<a class="headerlink" href="#t">&para;</a></h1>'
        "<p>It's a <em>well-known</em> fact: 3.14 is <strong>pi</strong>.</p>"
    )
    assert (s.words, s.code_lines, s.figures) == (9, 0, 0)


def test_words_join_across_inline_tags_and_split_at_blocks():
    assert stats("<p>sub<em>word</em></p>").words == 1
    assert stats("<p>one</p><p>two</p>").words == 2
    assert (
        stats("<ul><li>a</li><li>b</li></ul><table><tr><td>1</td><td>2</td></tr></table>").words
        == 4
    )


def test_counts_code_lines_not_words():
    s = stats(code(3) + "<pre><code>out 1\n\n   \nout 2</code></pre>")
    assert (s.words, s.code_lines, s.figures) == (0, 5, 0)


def test_counts_figures_and_skips_their_text():
    s = stats(SVG + '<p><img src="a.png" alt="two words"> and <img src="b.png"/></p>')
    assert (s.words, s.code_lines, s.figures) == (1, 0, 3)  # "and"


def test_math_script_style_and_buttons():
    s = stats(
        r'<p>Let <span class="arithmatex">\(E \in \mathbb{R}^{V \times d}\)</span> be</p>'
        r'<div class="arithmatex">\[ x_t = E_{i_t} \]</div>'
        "<script>var a = 1;</script><style>p { x: y }</style><button>Press me</button>"
    )
    assert (s.words, s.code_lines, s.figures) == (3, 0, 1)  # Let, the formula, be


def test_formula():
    assert reading.WORDS_PER_MINUTE == 220
    assert reading.SECONDS_PER_CODE_LINE == 4
    assert reading.SECONDS_PER_FIGURE == 12
    s = stats(words(660) + code(30) + SVG * 5)
    assert (s.words, s.code_lines, s.figures) == (660, 30, 5)
    assert s.seconds == pytest.approx(180 + 120 + 60)
    assert s.minutes == 6
    assert minutes(words(220)) == 1
    assert minutes(words(440)) == 2
    assert minutes(code(15) + code(15)) == 2
    assert minutes(SVG * 10) == 2


def test_rounds_half_up_and_never_below_one_minute():
    assert minutes("") == 1
    assert minutes("<p>hi</p>") == 1
    assert minutes(words(329)) == 1  # 89.7 s
    assert minutes(words(330)) == 2  # 90 s
    assert minutes(words(549)) == 2  # 149.7 s
    assert minutes(words(550)) == 3  # 150 s


def test_monotonic():
    previous = 0
    for n in range(0, 3000, 37):
        for extra in ("", code(n // 50), SVG * (n // 400)):
            now = minutes(words(n) + extra)
            assert now >= previous or extra, (n, now, previous)
        now = minutes(words(n))
        assert now >= previous
        assert minutes(words(n) + code(5)) >= now
        assert minutes(words(n) + SVG) >= now
        previous = now
    assert previous > 10


def test_format_minutes():
    assert [reading.format_minutes(m) for m in (1, 59, 60, 61, 125)] == [
        "1 min",
        "59 min",
        "1 h",
        "1 h 1 min",
        "2 h 5 min",
    ]


def test_strip_injected_and_article_html():
    page = (
        '<html><article class="md-content__inner"><h1>T</h1>'
        f"{reading.START}<p>added</p>{reading.END}<p>own</p></article></html>"
    )
    assert reading.strip_injected(reading.article_html(page)) == "<h1>T</h1><p>own</p>"


def structure(output: str) -> dict:
    """The site structure a built page carries for progress.js."""
    (raw,) = re.findall(
        r'<div id="gu-reading-data" hidden data-gu-structure="([^"]*)"></div>', output
    )
    return json.loads(html.unescape(raw))


# ------------------------------------------------------------------ (b) a tiny site
def _tiny_site(tmp_path: Path, index_lists_b: bool = True) -> Path:
    config = {
        "site_name": "Tiny",
        "theme": {"name": "material", "features": ["navigation.indexes"]},
        "plugins": ["search", {"mkdocs-jupyter": {"include": ["*.ipynb"], "execute": False}}],
        "hooks": [str(ROOT / "hooks" / "reading.py")],
        "nav": [
            {"Home": "index.md"},
            {
                "Chapter": [
                    "ch/index.md",
                    {"A": "ch/a.md"},
                    {"B": "ch/b.md"},
                    {"Quiz": "ch/quiz.md"},
                    {"Notebook": "ch/nb.ipynb"},
                ]
            },
            {"Other": "other.md"},
        ],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "ch").mkdir(parents=True)
    (docs / "index.md").write_text(
        "---\ncoming:\n  - title: Later\n    description: Soon.\n---\n# Home\n\n"
        "<!-- gu:learning-path -->\n",
        encoding="utf-8",
    )
    listed = "1. [A](a.md): first.\n" + ("2. [B](b.md): second.\n" if index_lists_b else "")
    (docs / "ch" / "index.md").write_text(
        f"---\ndescription: The tiny chapter.\n---\n# Chapter\n\n{listed}", encoding="utf-8"
    )
    (docs / "ch" / "a.md").write_text("# A\n\n" + "word " * 440 + "\n", encoding="utf-8")
    (docs / "ch" / "b.md").write_text(
        "# B\n\n```python\n" + "x = 1\n" * 30 + "```\n", encoding="utf-8"
    )
    (docs / "ch" / "quiz.md").write_text(
        "---\nquiz: ch\n---\n# Quiz\n\nQuestions.\n", encoding="utf-8"
    )
    notebook = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Notebook\n", "Text."]}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (docs / "ch" / "nb.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (docs / "other.md").write_text("# Other\n\nNot in a chapter.\n", encoding="utf-8")
    return tmp_path


def test_tiny_site_articles_are_the_chapter_pages_only(tmp_path):
    site = _tiny_site(tmp_path)
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    out = tmp_path / "out"

    def page(rel: str) -> str:
        return (out / rel).read_text(encoding="utf-8")

    for rel, expected in (("ch/a/index.html", 2), ("ch/b/index.html", 2)):
        assert page(rel).count("data-gu-toggle=") == 1, rel
        assert f'data-gu-minutes="{expected}">' in page(rel), rel
    for rel in (
        "index.html",
        "ch/index.html",
        "ch/quiz/index.html",
        "ch/nb/index.html",
        "other/index.html",
    ):
        assert "data-gu-toggle=" not in page(rel), rel
    index = page("ch/index.html")
    assert re.search(
        r'<a href="a/">A</a><!--gu-reading--><span class="gu-chip" '
        r'data-gu-article="ch/a/" data-gu-minutes="2">',
        index,
    )
    assert 'data-gu-total="4"' in index
    home = page("index.html")
    assert "gu:learning-path" not in home
    assert 'data-gu-articles="2"' in home and "The tiny chapter." in home
    assert "Later" in home and "coming" in home
    data = structure(home)
    assert [a["url"] for a in data["chapters"][0]["articles"]] == ["ch/a/", "ch/b/"]


def test_tiny_site_article_missing_from_its_index_fails_the_strict_build(tmp_path):
    site = _tiny_site(tmp_path, index_lists_b=False)
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode != 0
    assert "ch/index.md does not list the article ch/b.md" in result.stdout + result.stderr


# ------------------------------------------------------------------ (c) the real site
def _front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    return yaml.safe_load(text.split("---", 2)[1]) or {}


def expected_chapters() -> list[tuple[str, str, list[str]]]:
    """(title, index page, article pages) per chapter, read from mkdocs.yml and the pages."""
    chapters = []
    for item in real_config()["nav"]:
        if not isinstance(item, dict):
            continue
        ((title, value),) = item.items()
        if not isinstance(value, list):
            continue
        pages = nav_pages(value)  # the .md pages: notebooks are never articles
        index = next(p for p in pages if p.endswith("/index.md"))
        articles = [
            p
            for p in pages
            if p != index and p.endswith(".md") and "quiz" not in _front_matter(ROOT / "docs" / p)
        ]
        chapters.append((title, index, articles))
    return chapters


def url_of(page: str) -> str:
    stem = page.rsplit(".", 1)[0]
    if stem == "index":
        return ""
    return stem[: -len("index")] if stem.endswith("/index") else stem + "/"


def html_file(site: Path, page: str) -> Path:
    return site / url_of(page) / "index.html"


@pytest.fixture(scope="module")
def site(real_site_build) -> Path:
    out, result = real_site_build
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return out


def shown_minutes(page_html: str) -> list[int]:
    return [
        int(a)
        for a, b in re.findall(
            r'<span class="gu-time" data-gu-minutes="(\d+)">.*?(\d+) min read</span>', page_html
        )
        if a == b
    ]


def test_real_chapters_have_articles():
    chapters = expected_chapters()
    assert [t for t, _, _ in chapters][:2] == ["Tokenization", "The Transformer"]
    assert all(len(articles) >= 5 for _, _, articles in chapters)


def test_every_article_shows_the_reading_time_of_its_text(site):
    for _, _, articles in expected_chapters():
        for page in articles:
            output = html_file(site, page).read_text(encoding="utf-8")
            text = reading.strip_injected(reading.article_html(output))
            assert len(text) > 1000, page
            assert shown_minutes(output) == [minutes(text)], page


def _article_minutes(site: Path, page: str) -> int:
    (m,) = shown_minutes(html_file(site, page).read_text(encoding="utf-8"))
    return m


def test_each_chapter_index_lists_its_articles_with_their_times(site):
    for _title, index, articles in expected_chapters():
        output = html_file(site, index).read_text(encoding="utf-8")
        total = 0
        for page in articles:
            m = _article_minutes(site, page)
            total += m
            href = posixpath.relpath(url_of(page), url_of(index)) + "/"
            chip = re.search(
                r'<li>\s*(?:<p>\s*)?<a href="' + re.escape(href) + r'">[^<]*</a><!--gu-reading-->'
                r'<span class="gu-chip" data-gu-article="'
                + re.escape(url_of(page))
                + r'" data-gu-minutes="(\d+)">(.*?)</span><!--/gu-reading-->',
                output,
                flags=re.DOTALL,
            )
            assert chip, (index, page)
            assert int(chip.group(1)) == m, (index, page)
            assert re.sub(r"<[^>]+>", "", chip.group(2)).endswith(f"{m} min"), chip.group(2)
        assert f'data-gu-articles="{len(articles)}"' in output, index
        assert f'data-gu-total="{total}"' in output, (index, total)
        assert f"0 of {len(articles)} read" in output


def test_home_page_maps_every_chapter(site):
    output = (site / "index.html").read_text(encoding="utf-8")
    assert "gu:learning-path" not in output
    steps = re.findall(
        r'<li class="gu-step" data-gu-chapter="([^"]*)">(.*?)</div></li>', output, flags=re.DOTALL
    )
    chapters = expected_chapters()
    assert [key for key, _ in steps] == [url_of(index) for _, index, _ in chapters]
    all_articles, all_minutes = 0, 0
    for (key, step), (title, index, articles) in zip(steps, chapters):
        total = sum(_article_minutes(site, p) for p in articles)
        all_articles += len(articles)
        all_minutes += total
        description = _front_matter(ROOT / "docs" / index)["description"]
        assert description and html.escape(description) in step, title
        assert f'<a href="{key}">{html.escape(title)}</a>' in step
        assert f'data-gu-articles="{len(articles)}">{len(articles)} articles<' in step
        assert f'data-gu-total="{total}">' in step
        assert reading.format_minutes(total) + "</span>" in step
        assert f"0 of {len(articles)} read" in step
        for page in articles:
            assert f'href="{url_of(page)}"' in step
    assert f'data-gu-articles="{all_articles}"' in output
    assert f'data-gu-total="{all_minutes}"' in output
    assert f'data-gu-count="*" data-gu-js hidden>0 of {all_articles} read' in output
    assert "Sampling and the KV cache" not in output  # live now, as Generating text
    for coming in (
        "FlashAttention",
        "Training at scale",
        "Alignment",
        "Evaluation",
    ):
        assert re.search(
            r"gu-step--coming.*?" + re.escape(coming) + r'<span class="gu-badge">coming',
            output,
            flags=re.DOTALL,
        ), coming


def test_exactly_the_articles_have_one_mark_as_read_button(site):
    articles = {html_file(site, p).resolve() for _, _, a in expected_chapters() for p in a}
    assert len(articles) >= 10
    seen = 0
    for path in site.rglob("*.html"):
        output = path.read_text(encoding="utf-8")
        buttons = re.findall(
            r"<button[^>]*data-gu-toggle[^>]*>.*?</button>", output, flags=re.DOTALL
        )
        if path.resolve() in articles:
            seen += 1
            assert len(buttons) == 1, path
            (button,) = buttons
            assert 'type="button"' in button and 'aria-pressed="false"' in button
            assert re.sub(r"<[^>]+>", "", button) == "Mark as read"
            assert f'data-gu-toggle="{path.parent.relative_to(site).as_posix()}/"' in button
        else:
            assert buttons == [], path
            assert "Mark as read" not in output, path
    assert seen == len(articles)


def test_pages_embed_the_structure_with_a_base_that_reaches_the_root(site):
    chapters = expected_chapters()
    pages = ["index.md"] + [p for _, index, a in chapters for p in [index, *a]]
    for page in pages:
        output = html_file(site, page).read_text(encoding="utf-8")
        assert output.count('id="gu-reading-data"') == 1, page
        data = structure(output)
        assert data["page"] == url_of(page)
        page_dir = html_file(site, page).parent
        assert (page_dir / data["base"]).resolve() == site.resolve(), page
        assert [c["title"] for c in data["chapters"]] == [t for t, _, _ in chapters]
        for chapter, (_, index, articles) in zip(data["chapters"], chapters):
            assert chapter["url"] == chapter["key"] == url_of(index)
            assert [a["url"] for a in chapter["articles"]] == [url_of(p) for p in articles]
            for article in chapter["articles"]:
                assert (site / article["url"] / "index.html").is_file()
                assert not article["url"].startswith(("/", "http"))
