"""Check what the tests cover, after the README's test command has run them.

Reads the `.coverage` data written by `pytest --cov` (both steps) and fails unless
- at least 95% of the lines of `code/groundup` ran, and
- every line of every snippet section an article shows ran (100%): code a reader
  sees on the site is code the tests execute.

    python tools/check_coverage.py          # prints the figures; exit 1 if a floor is missed
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import coverage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snippets import ROOT, all_sections, includes  # noqa: E402

TOTAL_FLOOR = 95.0


def main() -> int:
    cov = coverage.Coverage(
        data_file=str(ROOT / ".coverage"), config_file=str(ROOT / "pyproject.toml")
    )
    cov.load()
    total = cov.report(file=io.StringIO())
    sections = all_sections()
    shown = sorted({inc.ref for inc in includes() if inc.ref in sections})
    uncovered: list[str] = []
    for ref in shown:
        section = sections[ref]
        _, statements, _, missing, _ = cov.analysis2(str(ROOT / section.path))
        body = set(section.body)
        ran = [n for n in statements if n in body]
        missed = sorted(n for n in missing if n in body)
        if missed:
            uncovered.append(
                f"  {ref}: lines {', '.join(map(str, missed))} never ran "
                f"({len(ran) - len(missed)} of {len(ran)} statements)"
            )
    print(f"coverage of code/groundup: {total:.1f}% of lines (floor {TOTAL_FLOOR:.0f}%)")
    print(
        f"snippet sections shown on the site: {len(shown)}, fully covered: "
        f"{len(shown) - len(uncovered)} (floor: all)"
    )
    ok = total >= TOTAL_FLOOR and not uncovered
    if uncovered:
        print("sections the tests do not fully run:")
        print("\n".join(uncovered))
    print("coverage check:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
