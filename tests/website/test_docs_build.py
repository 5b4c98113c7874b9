"""The site build is a test: a failing executed block or a broken snippet must
fail `mkdocs build --strict`, and the real site must build cleanly.

(a) and (b) build tiny throwaway sites in tmp_path, so they show the guard works
independently of the real pages; (c) builds the real site from the repo root.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _env(cache: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["GROUNDUP_CACHE_DIR"] = str(cache or ROOT / ".cache" / "groundup")
    return env


def mkdocs_build(cwd: Path, site_dir: Path, strict: bool = True, cache: Path | None = None):
    cmd = [sys.executable, "-m", "mkdocs", "build", "-d", str(site_dir)]
    if strict:
        cmd.insert(4, "--strict")
    return subprocess.run(
        cmd, cwd=cwd, env=_env(cache), capture_output=True, text=True, timeout=580
    )


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags such as `!ENV`; we only need its plain structure."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
_IgnoreTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def real_config() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_IgnoreTags)


def real_snippets_config() -> dict:
    for ext in real_config()["markdown_extensions"]:
        if isinstance(ext, dict) and "pymdownx.snippets" in ext:
            return ext["pymdownx.snippets"]
    raise AssertionError("mkdocs.yml does not configure pymdownx.snippets")


def make_site(tmp_path: Path, page: str) -> Path:
    """A minimal site: markdown-exec, superfences, and the real site's snippets settings."""
    config = {
        "site_name": "Build guard test",
        "plugins": ["markdown-exec"],
        "markdown_extensions": [
            "pymdownx.superfences",
            {"pymdownx.snippets": real_snippets_config()},
            {"toc": {"permalink": True}},
        ],
        "validation": real_config()["validation"],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "index.md").write_text(page, encoding="utf-8")
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## A section\n", encoding="utf-8")
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "lib.py").write_text(
        "import math\n\n\n"
        "# --8<-- [start:area]\n"
        "def area(r):\n"
        "    return math.pi * r * r\n"
        "# --8<-- [end:area]\n",
        encoding="utf-8",
    )
    return tmp_path


GOOD_BLOCK = '```python exec="on"\nprint("computed " + str(6 * 7))\n```\n'
BAD_BLOCK = '```python exec="on"\nraise RuntimeError("boom " + "marker")\n```\n'
GOOD_SNIPPET = '```python\n--8<-- "code/lib.py:area"\n```\n'


# ------------------------------------------------------------------ (a) executed blocks
def test_passing_block_builds_and_its_output_is_in_the_page(tmp_path):
    site = make_site(tmp_path, "# Page\n\n" + GOOD_BLOCK)
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "computed 42" in page  # the output, which the source does not contain
    assert "Traceback" not in page


def test_failing_block_fails_the_strict_build(tmp_path):
    site = make_site(tmp_path, "# Page\n\n" + GOOD_BLOCK + "\n" + BAD_BLOCK)
    result = mkdocs_build(site, tmp_path / "out")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "boom marker" in output
    assert "exited with errors" in output
    assert "strict mode" in output


def test_without_strict_the_error_lands_in_the_page(tmp_path):
    # why the real-site test also searches the HTML for tracebacks
    site = make_site(tmp_path, "# Page\n\n" + BAD_BLOCK)
    result = mkdocs_build(site, tmp_path / "out", strict=False)
    assert result.returncode == 0
    page = _text((tmp_path / "out" / "index.html").read_text(encoding="utf-8"))
    assert "Traceback (most recent call last)" in page and "boom marker" in page


# ------------------------------------------------------------------ (b) snippets
def test_snippet_section_builds(tmp_path):
    site = make_site(tmp_path, "# Page\n\n" + GOOD_SNIPPET)
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    page = html.unescape((tmp_path / "out" / "index.html").read_text(encoding="utf-8"))
    text = re.sub(r"<[^>]+>", "", page)
    assert "def area(r):" in text
    assert "import math" not in text  # only the section, not the whole file
    assert "--8<--" not in text


@pytest.mark.parametrize(
    "snippet,error",
    [
        ('--8<-- "code/lib.py:volume"', "Snippet section 'volume' could not be located"),
        ('--8<-- "code/missing.py:area"', "could not be found"),
        ('--8<-- "code/missing.py"', "could not be found"),
    ],
    ids=["missing-section", "missing-file-section", "missing-file"],
)
def test_broken_snippet_fails_the_strict_build(tmp_path, snippet, error):
    site = make_site(tmp_path, f"# Page\n\n```python\n{snippet}\n```\n")
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode != 0
    assert error in result.stdout + result.stderr


# ------------------------------------------------------------------ (b2) links
def test_working_links_and_anchors_build(tmp_path):
    site = make_site(tmp_path, "# Page\n\n[ok](other.md#a-section)\n")
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "link,error",
    [
        ("[broken](missing.md)", "not found among documentation files"),
        ("[broken](other.md#no-such-section)", "does not contain an anchor '#no-such-section'"),
        ("[broken](#nowhere)", "there is no such anchor on this page"),
    ],
    ids=["missing-page", "missing-anchor", "missing-local-anchor"],
)
def test_broken_link_or_anchor_fails_the_strict_build(tmp_path, link, error):
    site = make_site(tmp_path, f"# Page\n\n{link}\n")
    result = mkdocs_build(site, tmp_path / "out")
    assert result.returncode != 0
    assert error in result.stdout + result.stderr


def test_real_config_checks_snippet_paths():
    config = real_snippets_config()
    assert config.get("check_paths") is True


# ------------------------------------------------------------------ (c) the real site
def nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        if isinstance(item, str):
            pages.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return [p for p in pages if isinstance(p, str) and p.endswith(".md")]


def html_path(site: Path, page: str) -> Path:
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / (stem + ".html")
    return site / stem / "index.html"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _text(fragment: str) -> str:
    return _norm(html.unescape(re.sub(r"<[^>]+>", "", fragment)))


def executed_outputs(md_source: str, page: str, code_sources: str) -> list[str]:
    """Pieces of the page that are neither in its Markdown nor in the package's code:
    what executed blocks printed (code blocks, inline code, tables) or drew (figures)."""
    known = _norm(md_source) + "\n" + code_sources
    article = page[page.find("<article") :] if "<article" in page else page
    found = []
    for block in re.findall(r"<pre[^>]*>(.*?)</pre>", article, flags=re.S):
        text = _text(block)
        if text and text not in known:
            found.append(text[:80])
    for code in re.findall(r"<code[^>]*>(.*?)</code>", article, flags=re.S):
        text = _text(code)
        if text and text not in known:
            found.append(text[:80])
    for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", article, flags=re.S):
        text = _text(cell)
        if text and text not in known:
            found.append(text[:80])
    found += ["<svg>"] * len(re.findall(r"<svg[^>]*>\s*<metadata", article))
    return found


EXEC_FENCE = re.compile(
    r"^\s*(```+|~~~+)\s*(python|py|pycon|bash|sh|console)[^\n]*exec=\"(on|true|1)\"", re.M
)


@pytest.fixture(scope="module")
def real_site(real_site_build):
    return real_site_build


def test_real_site_builds_strictly_without_warnings(real_site):
    _, result = real_site
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert warnings == [], warnings


def test_every_nav_page_is_rendered(real_site):
    site, result = real_site
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    pages = nav_pages(real_config()["nav"])
    assert "index.md" in pages
    assert any(p.startswith("tokenization/") for p in pages)
    for page in pages:
        assert (ROOT / "docs" / page).is_file(), page
        rendered = html_path(site, page)
        assert rendered.is_file(), page
        assert "<article" in rendered.read_text(encoding="utf-8"), page


def test_no_page_shows_an_execution_error(real_site):
    site, result = real_site
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    for rendered in site.rglob("*.html"):
        page = _text(rendered.read_text(encoding="utf-8"))  # highlighting splits words into spans
        for marker in (
            "Traceback (most recent call last)",
            "exited with errors",
            "exited with unexpected code",
        ):
            assert marker not in page, f"{rendered.relative_to(site)}: {marker}"


CHAPTERS = ("tokenization/", "transformer/")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_page_shows_executed_output(real_site, chapter):
    """Each article runs code at build time and shows what it computed."""
    site, result = real_site
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    code_sources = "\n".join(
        _norm(p.read_text(encoding="utf-8")) for p in (ROOT / "code").rglob("*.py")
    )
    pages = [p for p in nav_pages(real_config()["nav"]) if p.startswith(chapter)]
    assert len(pages) >= 5
    missing = []
    for page in pages:
        md_source = (ROOT / "docs" / page).read_text(encoding="utf-8")
        rendered = html_path(site, page).read_text(encoding="utf-8")
        if not EXEC_FENCE.search(md_source) or not executed_outputs(
            md_source, rendered, code_sources
        ):
            missing.append(page)
    assert missing == [], f"pages without executed output: {missing}"


def test_drawn_diagrams_carry_their_text_alternative(real_site):
    """Every drawn diagram (groundup.pages.generating_text.diagrams) on the built site is an SVG image
    whose aria-labelledby names its own non-empty <title> and <desc>."""
    import xml.etree.ElementTree as ET

    site, _ = real_site
    found = 0
    for page in site.rglob("index.html"):
        for figure in re.findall(
            r'<figure class="gu-diagram">.*?</figure>', page.read_text("utf-8"), re.S
        ):
            root = ET.fromstring(figure)
            svg = root.find("{http://www.w3.org/2000/svg}svg")
            assert svg is not None and svg.get("role") == "img", page
            ids = (svg.get("aria-labelledby") or "").split()
            texts = {e.get("id"): (e.text or "").strip() for e in svg.iter() if e.get("id") in ids}
            assert len(ids) == 2 and all(texts.get(i) for i in ids), (page, ids)
            found += 1
    assert found >= 8, found


def test_chapter_plots(real_site):
    """The chapters draw their figures at build time (inline SVG from matplotlib)."""
    site, _ = real_site
    for chapter, at_least in (("tokenization", 3), ("transformer", 10), ("generating-text", 11)):
        figures = sum(
            len(re.findall(r'<div class="gu-figure"', p.read_text(encoding="utf-8")))
            for p in (site / chapter).rglob("index.html")
        )
        assert figures >= at_least, (chapter, figures)


# ------------------------------------------------------------------ (d) rendered links
def _targets(site: Path, page: Path, href: str) -> tuple[Path, str] | None:
    """The file and anchor an internal href points to (None for external links)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    path, anchor = unquote(parts.path), parts.fragment
    if not path:
        return page.resolve(), anchor
    # the 404 page links from the site root (site_url is served at "/")
    target = site / path.lstrip("/") if path.startswith("/") else page.parent / path
    if path.endswith(("/", "/.")) or target.resolve() == site.resolve():
        target = target / "index.html"
    return target.resolve(), anchor


def test_every_rendered_internal_link_resolves(real_site):
    """Every href and src in every built page points at a file of the site (and an id
    on that page). Catches what MkDocs' own validation cannot see, such as a `.md`
    link printed by an executed block, which MkDocs never rewrites."""
    site, result = real_site
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    ids: dict[Path, set[str]] = {}
    broken = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for attr, href in re.findall(r'\b(href|src)="([^"]*)"', text):
            resolved = _targets(site, page, html.unescape(href))
            if resolved is None:
                continue
            target, anchor = resolved
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {attr}={href}")
                continue
            if anchor and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(
                        re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8"))
                    )
                if anchor not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {href} (no #{anchor})")
    assert broken == [], broken[:20]
