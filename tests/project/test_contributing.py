"""The README's test command is what CI runs, and CONTRIBUTING.md's examples are real:
its snippet line names a section that exists, its executed block runs, and its quiz
passes the build's quiz checker."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "hooks"))
from quiz import parse_quiz  # noqa: E402
from snippets import all_sections  # noqa: E402

GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def fenced(text: str, info: str) -> list[str]:
    """The bodies of the fenced blocks whose info string starts with `info`."""
    return re.findall(r"^```" + re.escape(info) + r"[^\n]*\n(.*?)^```$", text, re.M | re.S)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [b.strip() for b in fenced(readme, "bash") if "[test]" in b]
    assert commands == ['pip install -e ".[test]" && python tools/check.py']
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ran = [line.replace(" -q", "") for line in ci.splitlines() if "[test]" in line]
    assert ran == commands


def test_the_snippet_example_names_a_real_section() -> None:
    refs = re.findall(r'--8<-- "([^"]+)"', GUIDE)
    assert refs and all(ref in all_sections() for ref in refs)
    marked = set(re.findall(r"# --8<-- \[start:(\w+)\]", GUIDE))
    assert marked == {ref.partition(":")[2] for ref in refs}


def test_the_executed_block_example_runs() -> None:
    (block,) = [b for b in fenced(GUIDE, "python exec") if b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(block, {})
    assert out.getvalue() == "[256, 3, 256]\n"


def test_the_quiz_example_is_a_valid_quiz() -> None:
    (example,) = fenced(GUIDE, "yaml")
    quiz = parse_quiz(example, "CONTRIBUTING.md")
    assert len(quiz.questions) == 1
