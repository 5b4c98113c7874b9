"""The code on the site and the code in the package are the same code.

Every snippet line in `docs/` names a section (or a whole file) that exists, every
section marked in `code/` is shown by some article (no dead sections), and every
section's markers pair up. (That every executed block ran is checked on the built
site by tests/website/test_docs_build.py.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from snippets import SectionError, all_sections, includes, sections_in  # noqa: E402


def test_every_included_section_exists():
    sections = all_sections()
    missing = []
    for inc in includes():
        path, _, name = inc.ref.partition(":")
        exists = inc.ref in sections if name else (ROOT / path).is_file()
        if not exists:
            missing.append(f"{inc.page}:{inc.line}: {inc.ref}")
    assert missing == []


def test_no_dead_sections():
    shown = {inc.ref for inc in includes()}
    dead = sorted(ref for ref in all_sections() if ref not in shown)
    assert dead == [], "sections no article shows (show them, or remove the markers)"


def test_articles_show_code_from_the_package():
    refs = {inc.ref for inc in includes()}
    assert len({r for r in refs if r.startswith("code/groundup/")}) >= 100


@pytest.mark.parametrize(
    "text,error",
    [
        ("# --8<-- [start:a]\nx = 1\n", "section 'a' never ends"),
        ("x = 1\n# --8<-- [end:a]\n", "section 'a' ends but never started"),
        (
            "# --8<-- [start:a]\n# --8<-- [end:a]\n# --8<-- [start:a]\n# --8<-- [end:a]\n",
            "section 'a' starts twice",
        ),
    ],
)
def test_unpaired_markers_are_errors(tmp_path, text, error):
    path = tmp_path / "code" / "m.py"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(SectionError, match=error):
        sections_in(path, root=tmp_path)


def test_nested_sections_are_found():
    path = ROOT / "code" / "groundup" / "train" / "loop.py"
    names = [s.name for s in sections_in(path)]
    assert "train_step" in names
