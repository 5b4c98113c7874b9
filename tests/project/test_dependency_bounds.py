"""The lowest versions CI installs are the lower bounds pyproject.toml claims.

`.github/constraints/lowest.txt` pins one version per lower-bounded dependency;
the `lowest` CI jobs install the project with it. A bound raised without the pin
(or the other way round) would leave a claimed version untested.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    found = [Requirement(r) for r in project["dependencies"]]
    found += [Requirement(r) for group in extras for r in group if not r.startswith("groundup[")]
    return found


def lower_bounds() -> dict[str, Version]:
    """Each dependency's `>=` bound, by canonical name."""
    return {
        canonicalize_name(r.name): Version(s.version)
        for r in requirements()
        for s in r.specifier
        if s.operator == ">="
    }


def lowest_pins() -> dict[str, Version]:
    text = (ROOT / ".github" / "constraints" / "lowest.txt").read_text(encoding="utf-8")
    pins = [re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()) for line in text.splitlines()]
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len([p for p in pins if p]) == len(lines), "every line of lowest.txt is NAME==VERSION"
    return {canonicalize_name(p[1]): Version(p[2]) for p in pins if p}


def test_every_lower_bound_is_pinned_at_its_lowest_release() -> None:
    bounds, pins = lower_bounds(), lowest_pins()
    assert len(bounds) >= 25
    assert sorted(bounds) == sorted(pins)
    for name, bound in bounds.items():
        pin = pins[name]
        # `torch>=2.5` is pinned at 2.5.1: the first release of the bound's series
        assert pin >= bound and pin.release[: len(bound.release)] == bound.release, name


def test_every_dependency_has_an_upper_bound_or_a_reason() -> None:
    """Upper bounds stop at the newest tested series; calendar-versioned `regex` has none."""
    for r in requirements():
        operators = {s.operator for s in r.specifier}
        assert operators & {"<", "=="} or r.name in {"regex"} or r.name.startswith("types-"), r
