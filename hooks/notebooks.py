"""Each chapter's code as a runnable notebook, generated from the chapter's pages.

A chapter is a `nav` section whose pages all live in one folder, `docs/<chapter>/`.
At every build, `on_files` writes one notebook per chapter and adds it to the site as
`<chapter>/notebook.ipynb` (a generated file: nothing is written into `docs/`); the
`mkdocs-jupyter` plugin then renders it as a page (without executing it) and copies
the `.ipynb` next to that page for download. The nav lists it as `Notebook`.

The notebook is built from the same Markdown the site executes, never kept by hand:

- a first Markdown cell: what the notebook is, how to install the package, the cache;
- a setup cell, `%load_ext groundup.pages.notebook` (the `%%show_as` cell magic);
- per article in nav order that executes or shows code: a Markdown cell (its title,
  a link to the page on the site, and the `code/` files and snippet sections it
  shows), then one code cell per executed block (```` ```python exec="on" ````), in
  page order, with the block's code verbatim. A block whose output the page renders
  as Markdown (no `result=`) or HTML (`html="true"`) gets a first line
  `%%show_as markdown` / `%%show_as html`, which displays what it prints rendered
  (`code/groundup/pages/notebook.py`); a `result="text"` block prints as is.

Running the notebook top to bottom recomputes what the pages show; `tests/website/test_notebooks.py`
runs every chapter's notebook with a Jupyter kernel.

`on_page_content` makes mkdocs-jupyter's rendering a page of this site (`site_html`):
the cells styled by the theme (light and dark), no script or stylesheet of the
template's (it links MathJax and Mermaid from a CDN, and inlines 575 kB of CSS), and a
download button under the title.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin

import mkdocs.plugins
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.utils import meta as front_matter

log = logging.getLogger("mkdocs.hooks.notebooks")

NOTEBOOK_NAME = "notebook.ipynb"
"""The generated notebook of chapter `c` is `c/notebook.ipynb` (page `c/notebook/`)."""

PYTHON = {"python", "py"}
"""Languages whose executed blocks become notebook cells."""

EXECUTING = PYTHON | {"pycon", "bash", "sh", "console", "md", "markdown", "tree", "pyodide"}
"""Languages markdown-exec can execute (to name an unsupported block, not skip it)."""


# ------------------------------------------------------------------ reading a page
@dataclass(frozen=True)
class Block:
    """An executed block of a page: its code and how the page shows its output."""

    code: str
    output: str  # "text" (result=...), "markdown" (the default) or "html" (html="true")
    session: str
    line: int  # 1-based line of the opening fence in the page's Markdown


@dataclass(frozen=True)
class Snippet:
    """A `--8<-- "path:section"` line: a file (and a section or line range) shown."""

    path: str
    section: str | None  # a section name, "lines 3-9", or None for the whole file


@dataclass
class Article:
    title: str
    src_path: str  # relative to docs/, e.g. "tokenization/why-tokens.md"
    blocks: list[Block] = field(default_factory=list)
    snippets: list[Snippet] = field(default_factory=list)


@dataclass
class Chapter:
    title: str
    folder: str  # "tokenization"
    articles: list[Article] = field(default_factory=list)

    @property
    def src_uri(self) -> str:
        return f"{self.folder}/{NOTEBOOK_NAME}"

    @property
    def blocks(self) -> list[Block]:
        return [b for a in self.articles for b in a.blocks]


_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_ATTR = re.compile(r"""([\w-]+)=(?:"([^"]*)"|'([^']*)'|(\S+))""")
_SNIPPET_LINE = re.compile(
    r"""^[ \t]*(?P<escape>;*)-+8<-+[ \t]+(?P<q>["'])(?P<spec>.+?)(?P=q)[ \t]*$"""
)
_SNIPPET_BLOCK_MARK = re.compile(r"^[ \t]*-+8<-+[ \t]*$")
_H1 = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t#]*$")


def _to_bool(value: str) -> bool:
    """markdown-exec's reading of `exec="..."` and `html="..."`."""
    return value.lower() not in {"", "no", "off", "false", "0"}


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    """The language and `key="value"` options of a fence's info string.

    Both forms superfences accepts: `python exec="on"` and `{.python exec="on"}`.
    """
    info = info.strip()
    if info.startswith("{") and info.endswith("}"):
        inner = info[1:-1].strip()
        classes = re.findall(r"(?:^|\s)\.([\w+-]+)", inner)
        language = classes[0] if classes else ""
        rest = inner
    else:
        language, _, rest = info.partition(" ")
    options = {}
    for match in _ATTR.finditer(rest):
        key, dq, sq, bare = match.groups()
        options[key] = dq if dq is not None else sq if sq is not None else bare
    return language.lower(), options


def fenced_blocks(markdown: str) -> Iterator[tuple[str, str, int, int]]:
    """Each fenced code block of `markdown`: (info string, body, first line, last line),
    lines 1-based (the opening and the closing fence).

    The body is dedented by the fence's own indentation (as superfences does for a
    fence inside a list or a tab). Fences inside a fence are content, not blocks.
    """
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"].expandtabs(4))
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        yield match["info"], "\n".join(_dedent(line, indent) for line in body), i + 1, j + 1
        i = j + 1


def _dedent(line: str, width: int) -> str:
    removed = 0
    while removed < width and line[:1] in (" ", "\t"):
        removed += 4 if line[0] == "\t" else 1
        line = line[1:]
    return line


def executed_blocks(markdown: str, where: str = "<page>") -> list[Block]:
    """The blocks markdown-exec runs in `markdown`, in order (see `Block`).

    Raises `PluginError` for an executed block the notebook cannot reproduce (a
    language other than Python, or a snippet line inside executed code), so a page
    never silently loses a cell.
    """
    blocks = []
    for info, body, line, _ in fenced_blocks(markdown):
        language, options = parse_info(info)
        if not _to_bool(options.get("exec", "no")):
            continue
        if language not in PYTHON:
            if language in EXECUTING:
                raise PluginError(
                    f"{where}:{line}: an executed `{language}` block; chapter notebooks "
                    f"(hooks/notebooks.py) turn only executed Python blocks into cells"
                )
            continue
        if any(_SNIPPET_LINE.match(code_line) for code_line in body.splitlines()):
            raise PluginError(f"{where}:{line}: a snippet line inside an executed block")
        if _to_bool(options.get("html", "no")):
            output = "html"
        elif options.get("result"):
            output = "text"
        else:
            output = "markdown"
        blocks.append(
            Block(code=body, output=output, session=options.get("session", ""), line=line)
        )
    return blocks


def _snippet(spec: str) -> Snippet:
    path, *rest = spec.split(":")
    if not rest or not rest[0]:
        return Snippet(path, None)
    if rest[0].isdigit() or (len(rest) > 1 and rest[1].isdigit()):
        start, end = rest[0], rest[1] if len(rest) > 1 else ""
        return Snippet(path, f"lines {start or 1}-{end or 'end'}")
    return Snippet(path, rest[0])


def snippets(markdown: str) -> list[Snippet]:
    """The files (and sections) the page includes with pymdownx.snippets, in order."""
    found = []
    in_block = False
    for line in markdown.splitlines():
        if _SNIPPET_BLOCK_MARK.match(line):
            in_block = not in_block
            continue
        if in_block:
            spec = line.strip()
            if spec and not spec.startswith(";"):
                found.append(_snippet(spec))
            continue
        match = _SNIPPET_LINE.match(line)
        if match and not match["escape"]:
            found.append(_snippet(match["spec"]))
    return found


def page_title(markdown: str, fallback: str) -> str:
    """The page's first `# heading` (outside code blocks), else `fallback`."""
    code = {n for _, _, first, last in fenced_blocks(markdown) for n in range(first, last + 1)}
    for number, line in enumerate(markdown.splitlines(), start=1):
        if number not in code and (match := _H1.match(line)):
            return match["title"]
    return fallback


def read_article(markdown: str, src_path: str, title: str | None) -> Article:
    """An article from its Markdown source (front matter allowed)."""
    body, _ = front_matter.get_data(markdown)
    fallback = PurePosixPath(src_path).stem.replace("-", " ").capitalize()
    return Article(
        title=title or page_title(body, fallback),
        src_path=src_path,
        blocks=executed_blocks(body, where=f"docs/{src_path}"),
        snippets=snippets(body),
    )


# ------------------------------------------------------------------ chapters from the nav
def _nav_entries(items: list) -> Iterator[tuple[str | None, str]]:
    """(title or None, path) of every page in a nav list, nested sections flattened."""
    for item in items:
        if isinstance(item, str):
            yield None, item
        elif isinstance(item, dict):
            for title, value in item.items():
                if isinstance(value, list):
                    yield from _nav_entries(value)
                elif isinstance(value, str):
                    yield title, value


def chapter_sections(nav: list | None) -> list[tuple[str, str, list[tuple[str | None, str]]]]:
    """(title, folder, Markdown pages) of each chapter: a top-level nav section whose
    Markdown pages all live in one folder of docs/."""
    found: list[tuple[str, str, list[tuple[str | None, str]]]] = []
    for item in nav or []:
        if not isinstance(item, dict):
            continue
        for title, value in item.items():
            if not isinstance(value, list):
                continue
            pages = [(t, p) for t, p in _nav_entries(value) if p.endswith(".md") and "://" not in p]
            folders = {
                PurePosixPath(p).parts[0] if len(PurePosixPath(p).parts) > 1 else None
                for _, p in pages
            }
            folder = folders.pop() if len(folders) == 1 else None
            if pages and folder is not None:
                found.append((title, folder, pages))
    return found


def read_chapters(nav: list | None, read: Callable[[str], str | None]) -> list[Chapter]:
    """The chapters of `nav`, their articles read with `read(src_path) -> str | None`
    (None: the page is not a file yet, e.g. generated later in the build)."""
    chapters = []
    for title, folder, pages in chapter_sections(nav):
        chapter = Chapter(title=title, folder=folder)
        for page_title_, src_path in pages:
            source = read(src_path)
            if source is None:
                continue
            article = read_article(source, src_path, page_title_)
            if article.blocks or article.snippets:
                chapter.articles.append(article)
        chapters.append(chapter)
    return chapters


# ------------------------------------------------------------------ writing the notebook
def page_url(src_path: str, site_url: str | None, use_directory_urls: bool = True) -> str:
    """The page's address on the site (absolute when `site_url` is set)."""
    url = File(src_path, src_dir=None, dest_dir="", use_directory_urls=use_directory_urls).url
    return urljoin(site_url, url) if site_url else url


def code_files(article: Article) -> list[tuple[str, list[str]]]:
    """(path, sections) of the files the article shows, in order of first appearance."""
    files: dict[str, list[str]] = {}
    for snip in article.snippets:
        sections = files.setdefault(snip.path, [])
        label = snip.section or "the whole file"
        if label not in sections:
            sections.append(label)
    return list(files.items())


def cell_source(block: Block) -> str:
    """A block's notebook cell: its code verbatim, under `%%show_as` when the page
    renders its output as Markdown or HTML."""
    if block.output == "text":
        return block.code
    return f"%%show_as {block.output}\n{block.code}"


def _intro(
    chapter: Chapter, site_url: str | None, repo_url: str | None, use_directory_urls: bool
) -> str:
    index = page_url(f"{chapter.folder}/index.md", site_url, use_directory_urls)
    clone = (
        f"git clone {repo_url}\ncd {repo_url.rstrip('/').rsplit('/', 1)[-1]}\n"
        if repo_url
        else "# from a clone of the Ground Up repository:\n"
    )
    return f"""# {chapter.title}: the notebook

The code of the chapter [{chapter.title}]({index}) of *Ground Up*, generated from the
chapter's pages when the site is built. Each code cell below is one of the pages'
executed blocks, unchanged and in page order; run the notebook from top to bottom and
it recomputes every number, table and plot the chapter shows. The code those blocks
call is the `groundup` package, the same code the pages show and the tests check.

**Install.** In a fresh virtual environment (a CPU build of PyTorch is enough; install
it first, as PyTorch's install selector shows, to avoid a multi-GB download):

```bash
{clone}pip install -e ".[docs]"    # the package and the libraries the pages use
pip install jupyterlab         # or any Jupyter front end with a Python kernel
```

then open this notebook with that environment's Python kernel.

**The cache makes reruns fast.** Heavy results (the site's tokenizer, its small GPT,
the experiments the pages compare) are computed once and stored in `.cache/groundup/`
under the folder you start Jupyter from (set `GROUNDUP_CACHE_DIR` to choose another
folder). The first run can take a while on a laptop CPU (it trains what the site
trains); later runs take seconds to minutes. Start Jupyter from the repository root to
reuse the cache of a site you have built there.

Cells whose output the page shows as Markdown (tables, sentences with computed numbers)
or HTML (plots) start with `%%show_as markdown` or `%%show_as html`: that cell magic,
loaded by the first code cell, displays what the cell prints rendered, as the page does.
"""


def _article_text(
    number: int | None, article: Article, site_url: str | None, use_directory_urls: bool
) -> str:
    url = page_url(article.src_path, site_url, use_directory_urls)
    heading = f"{number}. {article.title}" if number else article.title
    n = len(article.blocks)
    cells = (
        "The cell below is its executed block."
        if n == 1
        else f"The {n} cells below are its executed blocks, in page order."
        if n
        else "It executes no code."
    )
    text = f"## {heading}\n\nOn the site: [{article.title}]({url}). {cells}\n"
    files = code_files(article)
    if files:
        text += (
            "\nThe code it shows comes from these files of the repository (snippet sections):\n\n"
        )
        text += "".join(
            f"- `{path}`: "
            + ", ".join(f"`{s}`" if s != "the whole file" else s for s in sections)
            + "\n"
            for path, sections in files
        )
    else:
        text += "\nIt shows no code from `code/`; its cells import what they use from `groundup`.\n"
    return text


def _cell_id(*parts: object) -> str:
    """A deterministic cell id (nbformat: 1-64 of [a-zA-Z0-9-_])."""
    return re.sub(r"[^a-zA-Z0-9-_]+", "-", "-".join(str(p) for p in parts)).strip("-")[-64:]


def build_notebook(
    chapter: Chapter,
    site_url: str | None = None,
    repo_url: str | None = None,
    use_directory_urls: bool = True,
) -> nbformat.NotebookNode:
    """The chapter's notebook (see the module docstring for its cells)."""
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell(_intro(chapter, site_url, repo_url, use_directory_urls), id="intro"),
        v4.new_code_cell(
            "# The %%show_as cell magic: displays a cell's printed Markdown or HTML rendered.\n"
            "%load_ext groundup.pages.notebook",
            id="setup",
            metadata={"groundup": {"setup": True}},
        ),
    ]
    number = 0
    for article in chapter.articles:
        is_index = PurePosixPath(article.src_path).name == "index.md"
        number += 0 if is_index else 1
        stem = PurePosixPath(article.src_path).stem
        cells.append(
            v4.new_markdown_cell(
                _article_text(None if is_index else number, article, site_url, use_directory_urls),
                id=_cell_id(stem),
            )
        )
        for k, block in enumerate(article.blocks, start=1):
            cells.append(
                v4.new_code_cell(
                    cell_source(block),
                    id=_cell_id(stem, k),
                    metadata={
                        "groundup": {
                            "page": article.src_path,
                            "block": k,
                            "line": block.line,
                            "output": block.output,
                        }
                    },
                )
            )
    nb = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "groundup": {
                "chapter": chapter.folder,
                "title": chapter.title,
                "pages": [a.src_path for a in chapter.articles],
                "generated_by": "hooks/notebooks.py",
            },
        },
    )
    nbformat.validate(nb)
    return nb


def code_cells_from_pages(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The notebook's code cells that are executed blocks of pages (not the setup cell)."""
    return [
        c for c in nb.cells if c.cell_type == "code" and "page" in c.metadata.get("groundup", {})
    ]


# ------------------------------------------------------------------ MkDocs events
_workdir: str | None = None
_generated: dict[str, Chapter] = {}


def _cleanup() -> None:
    global _workdir
    if _workdir:
        shutil.rmtree(_workdir, ignore_errors=True)
        _workdir = None


def _repo_url(config) -> str | None:
    if config.repo_url:
        return config.repo_url
    for social in (config.extra or {}).get("social", []) or []:
        link = social.get("link", "") if isinstance(social, dict) else ""
        if re.match(r"https://(github|gitlab)\.com/[^/]+/[^/]+/?$", link):
            return link.rstrip("/")
    return None


@mkdocs.plugins.event_priority(50)  # before mkdocs-jupyter's on_files wraps .ipynb files
def on_files(files: Files, config) -> Files:
    global _workdir
    _cleanup()
    _generated.clear()
    _workdir = tempfile.mkdtemp(prefix="groundup-notebooks-")

    def read(src_path: str) -> str | None:
        file = files.get_file_from_path(src_path)
        return file.content_string if file is not None else None

    for chapter in read_chapters(config.nav, read):
        nb = build_notebook(chapter, config.site_url, _repo_url(config), config.use_directory_urls)
        path = Path(_workdir, chapter.folder, NOTEBOOK_NAME)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        existing = files.get_file_from_path(chapter.src_uri)
        if existing is not None:
            if not existing.generated_by:
                log.warning(
                    f"docs/{chapter.src_uri} is generated by hooks/notebooks.py; "
                    f"delete the hand-kept copy"
                )
            files.remove(existing)
        # A file of a docs folder of our own, not `File.generated`: mkdocs-jupyter wraps
        # .ipynb files and its wrapper recomputes `abs_src_path` from `src_dir`.
        file = File(
            chapter.src_uri,
            src_dir=_workdir,
            dest_dir=config.site_dir,
            use_directory_urls=config.use_directory_urls,
        )
        file.generated_by = "hooks/notebooks.py"
        files.append(file)
        _generated[chapter.src_uri] = chapter
        log.debug(f"notebooks: {chapter.src_uri}, {len(chapter.blocks)} executed blocks")
    return files


# mkdocs-jupyter's HTML, made a page of this site (see `site_html`).
_STYLES = re.compile(r"<style\b[^>]*>.*?</style>", re.DOTALL)
_SCRIPTS = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_LOADER_COMMENTS = re.compile(
    r"<!-- (?:Load|End of) (?:mathjax|mermaid)[^>]*-->|<!-- MathJax configuration -->",
    re.IGNORECASE,
)
_COPY_BUTTON = re.compile(
    r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>', re.DOTALL
)
_COPY_TEXT = re.compile(r'<div (?=[^>]*class="clipboard-copy-txt")[^>]*>.*?</div>', re.DOTALL)
_HIGHLIGHT = re.compile(  # code cells, and code blocks in Markdown cells
    r'<div class="(?:highlight-ipynb hl-(?P<lang>[\w+-]+)[^"]*|highlight)"><pre>(?P<code>.*?)</pre></div>',
    re.DOTALL,
)
_COLLAPSER = re.compile(r'<div class="jp-Collapser [^"]*">\s*</div>')
_WRAPPER = re.compile(
    r'<div class="(?:jp-Cell-inputWrapper|jp-InputArea jp-Cell-inputArea|'
    r'jp-CodeMirrorEditor jp-Editor jp-InputArea-editor|CodeMirror cm-s-jupyter)"[^>]*>'
)
# Pygments spans the theme gives no colour of their own: names (`n`, coloured
# `--md-code-hl-name-color`, which is the code's own colour) and whitespace (`w`).
_PLAIN_SPAN = re.compile(r'<span class="[nw]">([^<]*)</span>')
_SAME_CLASS_RUN = re.compile(
    r'<span class="([\w-]+)">[^<]*</span>(?:<span class="\1">[^<]*</span>)+'
)
_SPAN_TEXT = re.compile(r"<span[^>]*>([^<]*)</span>")

_DOWNLOAD_ICON = (  # Material's `material/download` icon, sized as the theme's inline icons
    '<span class="twemoji"><svg viewBox="0 0 24 24" aria-hidden="true">'
    '<path d="M5 20h14v-2H5m14-9h-4V3H9v6H5l7 7z"/></svg></span>'
)


def _lean_code(code: str) -> str:
    """Highlighted code with fewer bytes and the same look under the theme's CSS."""
    code = _PLAIN_SPAN.sub(r"\1", code.removeprefix("<span></span>"))
    return _SAME_CLASS_RUN.sub(
        lambda m: f'<span class="{m[1]}">{"".join(_SPAN_TEXT.findall(m[0]))}</span>', code
    )


def site_html(html: str) -> str:
    """mkdocs-jupyter's rendering of a notebook, as a page of this site.

    - no `<style>`: the template inlines JupyterLab's whole stylesheet (575 kB, over
      the page budget on its own) in a light theme fixed at build time; the cells are
      styled by the site's theme instead, and follow its light/dark palette;
    - no `<script>`: MathJax and Mermaid loaders pointing at cdnjs.cloudflare.com (the
      site requests nothing from another origin; the notebook has no outputs that would
      need them) and a clipboard element;
    - code cells as the site's other code blocks (`div.highlight > pre > code`, the same
      Pygments classes), so they get the theme's colours and its copy button, instead of
      a second copy of every cell's source for the template's own button; without the
      spans the theme does not colour, and without JupyterLab's editor wrappers (and
      their `tabindex`, one tab stop per cell): the page weighs about half as much;
    - heading anchors as the theme's (`headerlink`);
    - code cells out of the search index (`data-search-exclude`): their text is the
      pages' own, and a search should land on the article, not on its notebook.
    """
    html = _STYLES.sub("", html)
    html = _SCRIPTS.sub("", html)
    html = _LOADER_COMMENTS.sub("", html)
    html = _COPY_BUTTON.sub("", html)
    html = _COPY_TEXT.sub("", html)
    html = _COLLAPSER.sub("", html)
    html = _WRAPPER.sub("<div>", html)
    html = _HIGHLIGHT.sub(
        lambda m: (
            (
                f'<div class="language-{m["lang"]} highlight" data-search-exclude>'
                if m["lang"]
                else '<div class="highlight">'
            )
            + f"<pre><span></span><code>{_lean_code(m['code'])}</code></pre></div>"
        ),
        html,
    )
    return html.replace('class="anchor-link"', 'class="headerlink"')


def _download(chapter: Chapter, size: int) -> str:
    name = f"groundup-{chapter.folder}.ipynb"
    return (
        f'<p class="gu-notebook-download"><a class="md-button md-button--primary" '
        f'href="{NOTEBOOK_NAME}" download="{name}">{_DOWNLOAD_ICON} Download the notebook</a> '
        f"<code>{name}</code> ({size / 1024:.0f} kB): {len(chapter.blocks)} executed blocks "
        f"from {len(chapter.articles)} pages.</p>"
    )


@mkdocs.plugins.event_priority(50)  # mkdocs-jupyter's HTML as it comes, before other hooks
def on_page_content(html: str, page, config, files) -> str:
    chapter = _generated.get(page.file.src_uri)
    if chapter is None:
        return html
    html = site_html(html)
    link = _download(chapter, Path(page.file.abs_src_path).stat().st_size)
    # after the notebook's title (in its first cell), else at the top
    at = html.find("</h1>")
    at = at + len("</h1>") if at >= 0 else 0
    return html[:at] + link + html[at:]


def on_post_build(config) -> None:
    _cleanup()


def on_build_error(error) -> None:
    _cleanup()


def on_shutdown() -> None:
    _cleanup()
