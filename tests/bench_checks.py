"""What the benchmark tests share: running a script's --quick mode into a folder whose
RESULTS.md already holds another section, loading a script as a module, and reading
the numbers back out of its Markdown tables."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_quick(
    script: Path, folder: Path, results_md: str, args: list[str], timeout: float
) -> dict[str, Any]:
    """Run `script` with `args` into `folder`, whose RESULTS.md starts as `results_md`:
    {"md": the RESULTS.md it left, "stdout": what it printed, "json": its results}."""
    output, json_path = folder / "RESULTS.md", folder / "results.json"
    output.write_text(results_md, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), *args, "--output", str(output), "--json", str(json_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {
        "md": output.read_text(encoding="utf-8"),
        "stdout": proc.stdout,
        "json": json.loads(json_path.read_text(encoding="utf-8")),
    }


def load_script(script: Path) -> ModuleType:
    """Import a benchmark script by path, without running its `main`."""
    spec = importlib.util.spec_from_file_location(script.stem, script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def number(cell: str) -> tuple[float, float]:
    """The first number in a table cell and half a unit of its last printed digit."""
    match = re.search(r"\d[\d,]*(?:\.(\d+))?", cell)
    assert match, f"no number in {cell!r}"
    decimals = len(match.group(1) or "")
    return float(match.group().replace(",", "")), 0.5 * 10.0**-decimals


def matches(cell: str, raw: float) -> bool:
    """Whether the number printed in `cell` is `raw`, up to its printed rounding."""
    shown, half_unit = number(cell)
    return abs(shown - raw) <= half_unit + 1e-9


def table_rows(md: str, heading: str, index: int = 0) -> list[list[str]]:
    """The cells of each data row of table `index` (0: the first) under `heading`."""
    block = md.split(heading, 1)[1].split("###", 1)[0]
    tables, current = [], []
    for line in [*block.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    rows = [line for line in tables[index] if not set(line) <= set("|-: ")]  # no separator
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]  # skip header
