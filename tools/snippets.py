"""Where the site's code comes from: the `--8<--` snippet sections of `code/` and
the lines of `docs/` that include them.

A section is the lines between `# --8<-- [start:NAME]` and `# --8<-- [end:NAME]`
in a file under `code/`; an article includes it with a line
`--8<-- "code/groundup/.../file.py:NAME"` inside a code fence (pymdownx.snippets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[\s*(start|end)\s*:\s*([\w-]+)\s*\]\s*$")
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$')


@dataclass(frozen=True)
class Section:
    path: str  # relative to the repository root, e.g. "code/groundup/model/gpt.py"
    name: str
    start: int  # line number of the start marker (1-based)
    end: int  # line number of the end marker

    @property
    def ref(self) -> str:
        return f"{self.path}:{self.name}"

    @property
    def body(self) -> range:
        """The line numbers between the markers."""
        return range(self.start + 1, self.end)


@dataclass(frozen=True)
class Include:
    page: str  # relative to the repository root, e.g. "docs/transformer/attention.md"
    line: int
    ref: str  # what the page asks for, e.g. "code/groundup/model/attention.py:sdpa"


class SectionError(ValueError):
    """A section marker without its partner, or a name used twice in one file."""


def sections_in(path: Path, root: Path = ROOT) -> list[Section]:
    """Every section of one file, checking that markers pair up."""
    rel = path.resolve().relative_to(root).as_posix()
    open_at: dict[str, int] = {}
    found: list[Section] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = MARKER.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if kind == "start":
            if name in open_at or any(s.name == name for s in found):
                raise SectionError(f"{rel}:{n}: section {name!r} starts twice")
            open_at[name] = n
        else:
            if name not in open_at:
                raise SectionError(f"{rel}:{n}: section {name!r} ends but never started")
            found.append(Section(rel, name, open_at.pop(name), n))
    if open_at:
        name, n = next(iter(open_at.items()))
        raise SectionError(f"{rel}:{n}: section {name!r} never ends")
    return sorted(found, key=lambda s: s.start)


def all_sections(root: Path = ROOT) -> dict[str, Section]:
    """Every section under `code/`, by reference ("path:name")."""
    return {
        s.ref: s for path in sorted((root / "code").rglob("*.py")) for s in sections_in(path, root)
    }


def includes(root: Path = ROOT) -> list[Include]:
    """Every snippet line in the Markdown under `docs/`."""
    found = []
    for page in sorted((root / "docs").rglob("*.md")):
        rel = page.relative_to(root).as_posix()
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            m = INCLUDE.match(line)
            if m:
                found.append(Include(rel, n, m.group(1)))
    return found
