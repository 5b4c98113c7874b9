"""groundup.pages.generating_text.diagrams: a diagram is valid SVG with its text alternative."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from groundup.pages.generating_text.diagrams import Diagram, legend_width

SVG = "{http://www.w3.org/2000/svg}"


def _drawn() -> Diagram:
    d = Diagram(300, 80, title="Two boxes", description="A box x points to a box y <here>.")
    d.box(10, 20, 80, 40, "x").arrow(90, 40, 200, 40, "f & g").box(200, 20, 80, 40, "y", "accent")
    return d


def test_svg_parses_and_carries_its_title_and_description() -> None:
    root = ET.fromstring(_drawn().svg())
    svg = root.find(f"{SVG}svg")
    assert root.tag == "figure" and svg is not None
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Two boxes"
    assert desc is not None and desc.text == "A box x points to a box y <here>."
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_labels_are_escaped_and_arrows_point_at_their_own_marker() -> None:
    text = _drawn().svg()
    root = ET.fromstring(text)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert labels == ["x", "f & g", "y"]
    marker = root.find(f".//{SVG}marker")
    assert marker is not None
    lines = [e for e in root.iter(f"{SVG}line") if e.get("marker-end")]
    assert [e.get("marker-end") for e in lines] == [f"url(#{marker.get('id')})"]


def test_two_diagrams_on_one_page_have_distinct_ids() -> None:
    a, b = ET.fromstring(_drawn().svg()), ET.fromstring(_drawn().svg())
    ids = lambda root: {e.get("id") for e in root.iter() if e.get("id")}  # noqa: E731
    assert not ids(a) & ids(b)


def test_colours_come_from_classes_not_fixed_values() -> None:
    text = _drawn().svg()
    assert "#" not in text.replace("url(#", "")  # no hex colour: the stylesheet decides
    assert 'class="fill-accent"' in text and 'class="fill-plain"' in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0, "height": 10, "title": "t", "description": "d"}, "positive size"),
        ({"width": 10, "height": 10, "title": " ", "description": "d"}, "text alternative"),
        ({"width": 10, "height": 10, "title": "t", "description": ""}, "text alternative"),
    ],
)
def test_bad_diagrams_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Diagram(**kwargs)


def test_bad_fill_and_anchor_are_refused() -> None:
    d = Diagram(10, 10, "t", "d")
    with pytest.raises(ValueError, match="fill must be one of"):
        d.box(0, 0, 1, 1, fill="red")
    with pytest.raises(ValueError, match="anchor must be"):
        d.text(0, 0, "a", anchor="left")


def test_legend_draws_a_swatch_and_a_label_per_entry_within_its_width() -> None:
    entries = [("primary", "kept"), ("empty", "allocated, empty")]
    d = Diagram(400, 40, title="t", description="d").legend(10, 20, entries)
    svg = d.svg()
    assert svg.count("<rect") == 2 and svg.count('stroke-dasharray="4 3"') == 1
    assert 'class="fill-primary"' in svg and 'class="fill-none"' in svg
    assert ">kept<" in svg and ">allocated, empty<" in svg
    xs = [float(x) for x in re.findall(r'<rect class="[^"]+" x="([\d.]+)"', svg)]
    assert xs == [10, 10 + legend_width(entries[:1])]
    assert legend_width(entries) == sum(20 + 7 * len(label) + 24 for _, label in entries)
