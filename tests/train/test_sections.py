"""The snippet sections of groundup.train, which the site's articles include by name."""

from __future__ import annotations

import re
from pathlib import Path

import groundup.train

MARKER = re.compile(r"#\s*--8<--\s*\[(start|end):([a-z][-_0-9a-z]*)\]")
EXPECTED = {
    "checkpoint.py": {"save", "load"},
    "config.py": {"train_config"},
    "data.py": {"write_tokens", "open_tokens", "batch_generator", "get_batch"},
    "distributed.py": {"setup"},
    "loop.py": {"train_step", "save_run", "train"},
    "loss.py": {"cross_entropy"},
    "optim.py": {"param_groups", "clip"},
    "schedule.py": {"lr_schedule"},
}


def test_sections_are_balanced_and_non_empty() -> None:
    folder = Path(groundup.train.__file__).parent
    for name, expected in EXPECTED.items():
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        found: dict[str, list[tuple[str, int]]] = {}
        for i, line in enumerate(lines):
            if m := MARKER.search(line):
                found.setdefault(m.group(2), []).append((m.group(1), i))
        assert set(found) == expected, name
        for section, marks in found.items():
            assert [kind for kind, _ in marks] == ["start", "end"], (name, section)
            (_, start), (_, end) = marks
            body = [line for line in lines[start + 1 : end] if not MARKER.search(line)]
            assert any(line.strip() for line in body), (name, section)
