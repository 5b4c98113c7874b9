"""Each chapter's runnable notebook (`hooks/notebooks.py`, `groundup.pages.notebook`).

Fast tests: the generator on small pages (cells, their order, code verbatim, the
Markdown/HTML display, snippet files, chapters found in the nav), the real chapters'
notebooks against their pages, the display helper, and a small site built with the
hook and mkdocs-jupyter (the rendered page, the download, no request to another origin).

Slow tests (second step): the real site, built once; its notebooks (the files readers
download) are checked against its pages and run top to bottom with a Jupyter kernel
(nbclient, ipykernel), every cell without error, showing what the pages show.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
import yaml

if TYPE_CHECKING:
    from notebooks import Chapter  # hooks/notebooks.py, loaded below as `hook`

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("GROUNDUP_CACHE_DIR", ROOT / ".cache" / "groundup"))
MAX_PAGE_BYTES = 1_500_000


def _load_hook():
    spec = importlib.util.spec_from_file_location(
        "groundup_hooks_notebooks", ROOT / "hooks" / "notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags such as `!ENV`; only its plain structure matters here."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
_IgnoreTags.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def real_nav() -> list:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_IgnoreTags)["nav"]


# An independent count of executed blocks: markdown-exec runs a fence whose info
# string sets exec to a true value.
EXEC_FENCE = re.compile(
    r"^[ \t]*(```+|~~~+)[ \t]*\{?\.?(python|py)\b[^\n]*\bexec=\"(?!(?:no|off|false|0)\")[^\"]+\"",
    re.MULTILINE,
)

# ------------------------------------------------------------------ the generator, small pages
PAGE = '''---
title: ignored by the notebook
---

# A page

Some prose, then code that is only shown:

```python
--8<-- "code/groundup/lib.py:area"
```

```python exec="on" session="p" result="text"
x = 6 * 7
print(x)
```

```python
print("shown, never run")
```

```python exec="on" session="p"
print(f"""
| a | b |
|---|---|
| {x} |   indented inside a string stays indented |
""")
```

1. A list item with a block inside:

    ```python exec="on" session="p" html="true"
    print("<svg></svg>")
    if x:
        print("<p>nested</p>")
    ```

````markdown
```python exec="on"
print("an example of syntax inside another fence: not executed")
```
````

```{.python exec="true" session="p"}
print("**braces form**")
```

```python exec="off"
print("off")
```

--8<-- "code/groundup/other.py"
;--8<-- "code/groundup/escaped.py"
--8<-- "code/groundup/lib.py:volume"
'''


def test_executed_blocks_in_order_with_code_verbatim():
    blocks = hook.executed_blocks(PAGE)
    assert [b.output for b in blocks] == ["text", "markdown", "html", "markdown"]
    assert blocks[0].code == "x = 6 * 7\nprint(x)"
    assert blocks[1].code == (
        'print(f"""\n| a | b |\n|---|---|\n| {x} |   indented inside a string stays indented |\n""")'
    )
    # the list item's fence is dedented by its own indentation, the body keeps the rest
    assert blocks[2].code == 'print("<svg></svg>")\nif x:\n    print("<p>nested</p>")'
    assert blocks[3].code == 'print("**braces form**")'
    assert all(b.session == "p" for b in blocks)
    lines = PAGE.splitlines()
    assert all("exec=" in lines[b.line - 1] for b in blocks)


def test_snippets_listed_by_file_and_section():
    found = hook.snippets(PAGE)
    assert [(s.path, s.section) for s in found] == [
        ("code/groundup/lib.py", "area"),
        ("code/groundup/other.py", None),
        ("code/groundup/lib.py", "volume"),
    ]
    article = hook.read_article(PAGE, "chap/page.md", None)
    assert article.title == "A page"  # the first heading, not the front matter
    assert hook.code_files(article) == [
        ("code/groundup/lib.py", ["area", "volume"]),
        ("code/groundup/other.py", ["the whole file"]),
    ]


def test_an_executed_block_the_notebook_cannot_run_fails_loudly():
    with pytest.raises(hook.PluginError, match=r"page.md:3: an executed `bash` block"):
        hook.executed_blocks('# T\n\n```bash exec="on"\necho hi\n```\n', where="page.md")


def _chapter() -> Chapter:
    intro = '# Chap\n\n```python exec="on" session="i"\nprint("*intro*")\n```\n'
    pages = {"chap/index.md": intro, "chap/page.md": PAGE, "chap/prose.md": "# Only prose\n"}
    nav = [
        {"Home": "index.md"},
        {
            "Chap": [
                "chap/index.md",
                {"First page": "chap/page.md"},
                "chap/prose.md",
                {"Notebook": "chap/notebook.ipynb"},
            ]
        },
    ]
    (chapter,) = hook.read_chapters(nav, pages.get)
    return chapter


def test_notebook_cells_follow_the_pages():
    chapter = _chapter()
    assert (chapter.title, chapter.folder, chapter.src_uri) == (
        "Chap",
        "chap",
        "chap/notebook.ipynb",
    )
    # a page without executed blocks or snippets adds nothing
    assert [a.src_path for a in chapter.articles] == ["chap/index.md", "chap/page.md"]
    assert [a.title for a in chapter.articles] == ["Chap", "First page"]  # nav title first

    nb = hook.build_notebook(chapter, "https://example.org/site/", "https://github.com/o/r")
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "code", "markdown", "code", "markdown"] + ["code"] * 4
    intro, setup, _index_md, index_code, page_md, *page_code = nb.cells

    assert (
        'pip install -e ".[docs]"' in intro.source
        and "git clone https://github.com/o/r" in intro.source
    )
    assert "GROUNDUP_CACHE_DIR" in intro.source and ".cache/groundup" in intro.source
    assert "https://example.org/site/chap/" in intro.source
    assert setup.source.endswith("%load_ext groundup.pages.notebook")

    assert index_code.source == '%%show_as markdown\nprint("*intro*")'
    assert page_md.source.startswith("## 1. First page\n")
    assert "[First page](https://example.org/site/chap/page/)" in page_md.source
    assert "- `code/groundup/lib.py`: `area`, `volume`\n" in page_md.source
    assert "- `code/groundup/other.py`: the whole file\n" in page_md.source

    blocks = hook.executed_blocks(PAGE)
    prefixes = {"text": "", "markdown": "%%show_as markdown\n", "html": "%%show_as html\n"}
    assert [c.source for c in page_code] == [prefixes[b.output] + b.code for b in blocks]
    assert [c.metadata["groundup"]["output"] for c in page_code] == [
        "text",
        "markdown",
        "html",
        "markdown",
    ]
    assert len(hook.code_cells_from_pages(nb)) == len(chapter.blocks) == 5
    # deterministic: the same pages give the same file (and mkdocs-jupyter's cache hits)
    assert json.dumps(hook.build_notebook(chapter)) == json.dumps(hook.build_notebook(chapter))


def test_chapters_are_found_in_the_nav():
    nav = real_nav()
    found = [(title, folder) for title, folder, _ in hook.chapter_sections(nav)]
    assert ("Tokenization", "tokenization") in found
    assert ("The Transformer", "transformer") in found
    assert all(folder not in ("index.md", "benchmarks.md") for _, folder in found)
    # any future chapter: a section whose pages live in one folder
    future = nav + [
        {"Sampling": ["sampling/index.md", {"Top-p": "sampling/top-p.md"}]},
        {"Mixed": ["a/x.md", "b/y.md"]},
        {"Top": ["top.md"]},
    ]
    found = [folder for _, folder, _ in hook.chapter_sections(future)]
    assert "sampling" in found and "a" not in found and "b" not in found and "top.md" not in found


def test_every_chapter_in_the_nav_lists_its_notebook():
    """A chapter's notebook page is in its nav section, right before the quiz if any."""
    nav = real_nav()
    sections = [
        v for item in nav if isinstance(item, dict) for v in item.values() if isinstance(v, list)
    ]
    chapters = hook.chapter_sections(nav)
    assert len(chapters) >= 2
    for _, folder, _ in chapters:
        (entries,) = [
            [p for _, p in hook._nav_entries(section)]
            for section in sections
            if any(p.startswith(folder + "/") for _, p in hook._nav_entries(section))
        ]
        assert f"{folder}/notebook.ipynb" in entries, folder
        if f"{folder}/quiz.md" in entries:
            assert (
                entries.index(f"{folder}/notebook.ipynb") == entries.index(f"{folder}/quiz.md") - 1
            )
        else:
            assert entries[-1] == f"{folder}/notebook.ipynb"


def _real_chapters():
    docs = ROOT / "docs"
    return hook.read_chapters(
        real_nav(),
        lambda p: (docs / p).read_text(encoding="utf-8") if (docs / p).is_file() else None,
    )


def test_real_chapters_notebooks_hold_every_executed_block():
    chapters = {c.folder: c for c in _real_chapters()}
    assert {"tokenization", "transformer"} <= set(chapters)
    for folder, chapter in chapters.items():
        nb = hook.build_notebook(chapter, "http://127.0.0.1:8000/")
        pages = [p for _, f, ps in hook.chapter_sections(real_nav()) if f == folder for _, p in ps]
        expected = sum(
            len(EXEC_FENCE.findall((ROOT / "docs" / p).read_text(encoding="utf-8"))) for p in pages
        )
        cells = hook.code_cells_from_pages(nb)
        assert len(cells) == expected > 20, folder
        for cell in cells[:: max(1, len(cells) // 10)]:  # the code is the page's, verbatim
            meta = cell.metadata["groundup"]
            source = (ROOT / "docs" / meta["page"]).read_text(encoding="utf-8")
            code = cell.source.removeprefix(f"%%show_as {meta['output']}\n")
            assert code in source, (meta["page"], meta["line"])


# ------------------------------------------------------------------ the display helper
def test_captured_output_displays_markdown_and_html(monkeypatch):
    import IPython.display

    from groundup.pages import notebook

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    with notebook.captured_output("markdown"):
        print("| a |\n|---|\n| 1 |")
    with notebook.captured_output("html"):
        print("<svg></svg>")
    with notebook.captured_output("markdown"):
        pass  # prints nothing: displays nothing
    assert [type(o).__name__ for o in shown] == ["Markdown", "HTML"]
    assert shown[0].data == "| a |\n|---|\n| 1 |\n" and shown[1].data == "<svg></svg>\n"

    namespace: dict = {}
    notebook.run_cell_as("y = 2\nprint(f'**{y * 21}**')", namespace, "markdown")
    assert namespace["y"] == 2 and shown[-1].data == "**42**\n"

    with pytest.raises(ZeroDivisionError):  # a failing cell fails, after showing its output
        notebook.run_cell_as("print('before')\n1 / 0", {}, "markdown")
    assert shown[-1].data == "before\n"
    with pytest.raises(ValueError):
        notebook.captured_output("latex").__enter__()


# ------------------------------------------------------------------ a small site with the hook
def _build(cwd: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "GROUNDUP_CACHE_DIR": str(CACHE)}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )


def _foreign_assets(page: str) -> list[str]:
    """`<script src>` / `<link href>` / `<img src>` / CSS `@import` pointing to another origin."""
    found = re.findall(r'<(?:script|img|iframe)\b[^>]*\bsrc="((?:https?:)?//[^"]*)"', page)
    for link in re.findall(r"<link\b[^>]*>", page):  # rel=canonical etc. load nothing
        rel = re.search(r'\brel="([^"]*)"', link)
        href = re.search(r'\bhref="((?:https?:)?//[^"]*)"', link)
        if href and not (
            rel and rel[1] in ("canonical", "alternate", "author", "license", "prev", "next")
        ):
            found.append(href[1])
    found += re.findall(r'@import\s+(?:url\()?["\']?((?:https?:)?//[^"\')]+)', page)
    found += re.findall(r'import\(\s*["\']((?:https?:)?//[^"\']+)', page)
    return found


def test_small_site_renders_and_offers_the_notebook(tmp_path):
    config = {
        "site_name": "Notebook hook test",
        "site_url": "https://example.org/",
        "theme": {"name": "material", "font": False},
        "plugins": [
            "search",
            "markdown-exec",
            {
                "mkdocs-jupyter": {
                    "include": ["*.ipynb"],
                    "execute": False,
                    "include_source": True,
                    "include_requirejs": False,
                    "ignore_h1_titles": True,
                    "no_prompt": True,
                }
            },
        ],
        "markdown_extensions": [
            "pymdownx.superfences",
            "attr_list",
            "md_in_html",
            {"pymdownx.snippets": {"base_path": ["."], "check_paths": True}},
        ],
        "hooks": [str(ROOT / "hooks" / "notebooks.py")],
        "validation": {"omitted_files": "warn", "unrecognized_links": "warn", "anchors": "warn"},
        "nav": [
            {"Home": "index.md"},
            {
                "Chap": [
                    "chap/index.md",
                    {"First page": "chap/page.md"},
                    {"Notebook": "chap/notebook.ipynb"},
                ]
            },
        ],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "docs" / "chap").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n[The notebook](chap/notebook.ipynb)\n")
    (tmp_path / "docs" / "chap" / "index.md").write_text(
        '# Chap\n\n```python exec="on" session="i"\nprint("*six times seven*")\n```\n'
    )
    (tmp_path / "code" / "groundup").mkdir(parents=True)
    (tmp_path / "code" / "groundup" / "lib.py").write_text(
        "# --8<-- [start:area]\ndef area(r):\n    return 3 * r * r\n# --8<-- [end:area]\n"
    )
    (tmp_path / "docs" / "chap" / "page.md").write_text(
        '# First page\n\n```python\n--8<-- "code/groundup/lib.py:area"\n```\n\n'
        '```python exec="on" session="p" result="text"\nprint(6 * 7)\n```\n\n'
        '```python exec="on" session="p" html="true"\nprint("<svg></svg>")\n```\n'
    )
    out = tmp_path / "site"
    result = _build(tmp_path, out)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "WARNING" not in result.stdout + result.stderr
    assert not (tmp_path / "docs" / "chap" / "notebook.ipynb").exists()  # generated, never in docs/

    nb = nbformat.read(out / "chap" / "notebook" / "notebook.ipynb", as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in hook.code_cells_from_pages(nb)] == [
        '%%show_as markdown\nprint("*six times seven*")',
        "print(6 * 7)",
        '%%show_as html\nprint("<svg></svg>")',
    ]
    assert "[First page](https://example.org/chap/page/)" in nb.cells[4].source

    page = (out / "chap" / "notebook" / "index.html").read_text(encoding="utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    assert 'href="notebook.ipynb" download="groundup-chap.ipynb"' in article
    # every code cell, as the site's code blocks (its colours, its copy button), code exact
    blocks = re.findall(
        r'<div class="language-python highlight" data-search-exclude><pre><span></span>'
        r"<code>(.*?)</code></pre></div>",
        article,
        flags=re.DOTALL,
    )
    assert [html.unescape(re.sub(r"<[^>]+>", "", b)).rstrip("\n") for b in blocks] == [
        c.source for c in nb.cells if c.cell_type == "code"
    ]
    assert '<span class="nb">print</span>' in blocks[-1]  # still highlighted
    # none of the template's own styles, scripts, prompts or tab stops
    for unwanted in ("<style", "<script", "clipboard-copy", "In&nbsp;[", "tabindex", "anchor-link"):
        assert unwanted not in article, unwanted
    assert 'class="headerlink"' in article
    assert _foreign_assets(page) == []
    assert "cdnjs" not in page and "mathjax" not in page.lower() and "require.js" not in page
    # the nav's title, the notebook's own heading in the page
    assert "<title>Notebook - Notebook hook test</title>" in page
    assert "Chap: the notebook" in page
    # searchable by its text, not by its code (the articles hold that)
    index = json.loads((out / "search" / "search_index.json").read_text(encoding="utf-8"))
    notebook_entries = " ".join(
        d["title"] + " " + d["text"]
        for d in index["docs"]
        if d["location"].startswith("chap/notebook/")
    )
    assert "Chap: the notebook" in notebook_entries and "six times seven" not in notebook_entries
    home = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="chap/notebook/"' in home  # a link to the notebook reaches its page


# ------------------------------------------------------------------ the real site (slow)
@pytest.fixture(scope="module")
def real_site(real_site_build) -> Path:
    out, result = real_site_build
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert [line for line in output.splitlines() if "WARNING" in line] == []
    return out


def _chapter_folders() -> list[str]:
    return [folder for _, folder, _ in hook.chapter_sections(real_nav())]


def _page_html(site: Path, src_path: str) -> str:
    stem = src_path.removesuffix(".md")
    path = site / (stem + ".html" if stem.endswith("index") else stem + "/index.html")
    return path.read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def _page_weight(site: Path, page_path: Path) -> tuple[int, dict[str, int]]:
    """Bytes a first visit to the page loads: its HTML, scripts and styles, all from the
    site. (Fonts: the theme uses the system's; KaTeX's load only for math, which the
    notebook page has none of, see the test.)"""
    page = page_path.read_text(encoding="utf-8")
    sizes = {str(page_path.relative_to(site)): page_path.stat().st_size}
    refs = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', page)
    refs += [
        href
        for link in re.findall(r"<link\b[^>]*>", page)
        if 'rel="stylesheet"' in link
        for href in re.findall(r'\bhref="([^"]+)"', link)
    ]
    for ref in refs:
        target = (page_path.parent / ref.split("?")[0].split("#")[0]).resolve()
        assert target.is_file(), ref
        sizes[str(target.relative_to(site))] = target.stat().st_size
    return sum(sizes.values()), sizes


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("folder", ["tokenization", "transformer", "generating-text"])
def test_built_site_offers_each_chapter_notebook(real_site, folder):
    assert folder in _chapter_folders()
    nb_path = real_site / folder / "notebook" / "notebook.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nbformat.validate(nb)
    pages = [p for _, f, ps in hook.chapter_sections(real_nav()) if f == folder for _, p in ps]
    expected = sum(
        len(EXEC_FENCE.findall((ROOT / "docs" / p).read_text(encoding="utf-8"))) for p in pages
    )
    assert len(hook.code_cells_from_pages(nb)) == expected
    assert not any(
        c.get("outputs") for c in nb.cells if c.cell_type == "code"
    )  # never run at build

    page_path = real_site / folder / "notebook" / "index.html"
    page = page_path.read_text(encoding="utf-8")
    assert f'download="groundup-{folder}.ipynb"' in page
    assert _foreign_assets(page) == [], _foreign_assets(page)
    assert "cdnjs" not in page
    assert "arithmatex" not in page
    weight, sizes = _page_weight(real_site, page_path)
    assert weight <= MAX_PAGE_BYTES, sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    # the chapter's index page links to its notebook
    index = _page_html(real_site, f"{folder}/index.md")
    assert 'href="notebook/"' in index


# The notebook must reproduce what the pages show. Timings are measured, so they differ
# from run to run: an output that mentions one is not compared.
TIMING = re.compile(
    r"\d\s*(?:ms|µs|us|ns|s)\b|\b(?:seconds?|faster|slower|time[ds]?|timings?)\b|/s\b"
)
OUTPUT_MARKDOWN = [
    "tables",
    "md_in_html",
    "attr_list",
    "abbr",
    "footnotes",
    "pymdownx.superfences",
    "pymdownx.inlinehilite",
    "pymdownx.arithmatex",
]


def _shown_text(cell: nbformat.NotebookNode) -> str:
    """What the cell's output says, as text, the way the page renders it."""
    import markdown

    kind = cell.metadata["groundup"]["output"]
    if kind == "text":
        out = "".join(
            o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"
        )
        return _text(html.escape(out))
    if kind == "markdown":
        source = "".join(
            o.data["text/markdown"] for o in cell.outputs if o.output_type == "display_data"
        )
        return _text(
            markdown.markdown(
                source,
                extensions=OUTPUT_MARKDOWN,
                extension_configs={"pymdownx.arithmatex": {"generic": True}},
            )
        )
    figures = "".join(o.data["text/html"] for o in cell.outputs if o.output_type == "display_data")
    return " ".join(html.unescape(label) for label in re.findall(r'aria-label="([^"]*)"', figures))


def _run(nb: nbformat.NotebookNode, cwd: Path) -> float:
    from nbclient import NotebookClient

    start = time.perf_counter()
    NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("folder", ["tokenization", "transformer", "generating-text"])
def test_chapter_notebook_runs_and_shows_what_the_pages_show(
    real_site, folder, tmp_path, monkeypatch
):
    """The downloadable notebook, run top to bottom by a Jupyter kernel in an empty
    folder (with the site's cache): every cell runs, Markdown and HTML blocks display as
    such, and what they show is what the built pages show."""
    monkeypatch.setenv("GROUNDUP_CACHE_DIR", str(CACHE))  # the kernel inherits it
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = nbformat.read(real_site / folder / "notebook" / "notebook.ipynb", as_version=4)
    seconds = _run(nb, tmp_path)  # raises CellExecutionError at the first failing cell
    print(f"{folder}: {len(nb.cells)} cells ran in {seconds:.0f} s")

    cells = hook.code_cells_from_pages(nb)
    for cell in cells:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"]
    shown = {"markdown": "text/markdown", "html": "text/html"}
    for cell in cells:  # Markdown and HTML blocks display as such, never as printed text
        kind = cell.metadata["groundup"]["output"]
        if kind in shown:
            assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
            assert all(
                shown[kind] in o.data for o in cell.outputs if o.output_type == "display_data"
            )
    displayed = [o for c in cells for o in c.outputs if o.output_type == "display_data"]
    assert sum("<svg" in o.data.get("text/html", "") for o in displayed) >= 3  # the plots

    # every output (tables, sentences with numbers, figures' descriptions) is in its page
    checked, mismatched, pages = {"text": 0, "markdown": 0, "html": 0}, [], {}
    for cell in cells:
        meta = cell.metadata["groundup"]
        text = _shown_text(cell)
        if not text or TIMING.search(text):
            continue
        if meta["page"] not in pages:
            page = _page_html(real_site, meta["page"])
            # figures are described in attributes: compare those with the page's markup
            pages[meta["page"]] = {"text": _text(page), "html": html.unescape(page)}
        checked[meta["output"]] += 1
        if text not in pages[meta["page"]]["html" if meta["output"] == "html" else "text"]:
            mismatched.append(f"{meta['page']}:{meta['line']}: {text[:200]}")
    print(f"{folder}: outputs equal to the pages' {checked}")
    # a chapter may print its outputs as Markdown only (Generating text has no text blocks)
    assert checked["text"] + checked["markdown"] >= 20 and checked["html"] >= 3, checked
    assert mismatched == [], mismatched[:5]
