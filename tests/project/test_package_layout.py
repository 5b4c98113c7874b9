"""The package's layout rules (CONTRIBUTING.md, "Where code goes"):

- the library (everything in `groundup` outside `groundup.pages`) never imports the
  pages' code, not even lazily inside a function;
- the modules import each other without a circle at import time (a lazy import inside a
  function, such as `GPT.from_huggingface`, is the one way back, and is allowed);
- `groundup/pages/` mirrors `docs/`: a reader knows from a file's path which article it
  serves. `pages/<chapter>/<page>.py`, or the package `pages/<chapter>/<page>/`, serves
  `docs/<chapter>/<page>.md` and is used by it; any other module of a chapter's folder is
  shared by at least two of that chapter's pages; a module directly under `pages/` serves a
  top-level page of the same name, or is shared by pages of at least two chapters or by
  the site's hooks (the notebooks' display helper).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "code" / "groundup"
DOCS = ROOT / "docs"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path, top_level_only: bool) -> set[str]:
    """The `groundup` modules a file imports (absolute imports; the package uses no others)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from groundup import site` imports the module groundup.site
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n in MODULES}


def is_page_code(name: str) -> bool:
    return name == "groundup.pages" or name.startswith("groundup.pages.")


def test_the_tree_has_both_halves() -> None:
    assert any(is_page_code(n) for n in MODULES)
    assert {"groundup.tokenizer.bpe", "groundup.model.gpt", "groundup.train.loop"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_page_code(n)), ids=lambda n: n)
def test_the_library_never_imports_page_code(name: str) -> None:
    offending = sorted(n for n in imported_names(MODULES[name], False) if is_page_code(n))
    assert not offending, f"{name} (library) imports the pages' code: {offending}"


def test_no_import_circle_at_import_time() -> None:
    graph = {n: imported_names(p, top_level_only=True) - {n} for n, p in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail(f"import circle: {' -> '.join(path[path.index(nxt) :] + [nxt])}")
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def docs_folder(chapter: str) -> Path:
    """docs/<chapter>/ for the package pages/<chapter>/ (a hyphen in a folder's name is an
    underscore in its package's: docs/generating-text/ and pages/generating_text/)."""
    return DOCS / chapter.replace("_", "-") if not (DOCS / chapter).is_dir() else DOCS / chapter


def page_slugs(chapter: Path) -> set[str]:
    return {p.stem.replace("-", "_") for p in chapter.glob("*.md")}


def users(name: str) -> set[str]:
    """The pages (docs/*.md, as 'chapter/slug') and page modules that use module `name`."""
    path = "code/" + str(MODULES[name].relative_to(PACKAGE.parent))
    found = set()
    for md in DOCS.rglob("*.md"):
        text = md.read_text(encoding="utf-8")
        if name in text.replace(path, name):
            found.add(str(md.relative_to(DOCS).with_suffix("")))
    for other, other_path in MODULES.items():
        if other != name and is_page_code(other) and name in imported_names(other_path, False):
            found.add(other)
    return found


def page_of(user: str) -> str:
    """'transformer/scaling' for a page, or for any module of that page's code."""
    if not user.startswith("groundup."):
        return user.replace("-", "_")
    parts = user.split(".")[2:]
    return "/".join(parts[:2]) if len(parts) >= 2 else parts[0]


def chapter_of(user: str) -> str:
    return page_of(user).split("/")[0]


PAGE_MODULES = sorted(n for n in MODULES if n.startswith("groundup.pages.") and n.count(".") >= 2)


def test_every_chapter_folder_is_a_docs_chapter() -> None:
    for folder in (PACKAGE / "pages").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            assert docs_folder(folder.name).is_dir(), f"pages/{folder.name}/ has no docs/ folder"


@pytest.mark.parametrize("name", PAGE_MODULES, ids=lambda n: n)
def test_a_page_module_says_which_article_it_serves(name: str) -> None:
    parts = name.split(".")[2:]  # after groundup.pages
    chapter = parts[0]
    if len(parts) == 1 or (len(parts) == 2 and parts[1] == "__init__"):
        return  # a chapter's package
    slugs = page_slugs(docs_folder(chapter))
    own_page = parts[1] in slugs
    module_users = users(name)
    if own_page:
        page = f"{chapter}/{parts[1]}"
        if MODULES[name].name == "__init__.py":
            return
        assert page in {page_of(u) for u in module_users}, (
            f"{name} is named after docs/{page}.md, but that page does not use it"
        )
    else:
        assert len(parts) == 2, f"{name}: a page package must be named after a page of {chapter}"
        pages = {page_of(u) for u in module_users if chapter_of(u) == chapter}
        assert len(pages) >= 2, (
            f"{name} is at the level of docs/{chapter}/, so it must be shared by two or more "
            f"of its pages; used by {sorted(pages)}. Move it beside its page."
        )


@pytest.mark.parametrize(
    "name",
    sorted(n for n in MODULES if n.startswith("groundup.pages.") and n.count(".") == 2),
    ids=lambda n: n,
)
def test_a_site_wide_page_module_serves_a_top_page_or_several_chapters(name: str) -> None:
    stem = name.split(".")[-1]
    if (PACKAGE / "pages" / stem).is_dir():
        return  # a chapter's package, checked above
    if (DOCS / f"{stem}.md").exists():
        assert stem in {page_of(u) for u in users(name)}, f"docs/{stem}.md does not use {name}"
        return
    chapters = defaultdict(set)
    for user in users(name):
        chapters[chapter_of(user)].add(user)
    hooks = [h.name for h in (ROOT / "hooks").glob("*.py") if name in h.read_text("utf-8")]
    assert len(chapters) >= 2 or hooks, (
        f"{name} sits directly under pages/, so pages of two or more chapters (or the site's "
        f"hooks) must use it; "
        f"used by {dict(chapters)}"
    )
