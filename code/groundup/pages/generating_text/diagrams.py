"""Drawn diagrams for the site: small SVG figures that read in both colour schemes.

A diagram is boxes, arrows and labels placed on a grid of pixels. Strokes and text
use `currentColor` and fills use Material's theme variables (the classes in
`docs/stylesheets/extra.css`, `.gu-diagram .fill-*`), so one SVG follows the light
and the dark scheme. Every diagram carries its text alternative: a `<title>` and a
`<desc>` inside the SVG, joined by `aria-labelledby`, so a screen reader reads the
same thing a sighted reader sees. A diagram that depicts numbers (a cache's slots, a
mask) is drawn by code from those numbers at build time, so it cannot drift from them.

    d = Diagram(320, 80, title="Two boxes", description="A box labelled x points to y.")
    d.box(10, 20, 80, 40, "x")
    d.arrow(90, 40, 200, 40, "f")
    d.box(200, 20, 80, 40, "y", fill="accent")
    print(d.svg())   # in a markdown-exec block with html="true"
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass, field

FILLS = ("none", "plain", "primary", "accent", "muted")
"""Box fills: none, the page background, the theme's primary or accent tint, grey."""

_ids = itertools.count(1)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def legend_width(entries: list[tuple[str, str]], gap: float = 24) -> float:
    """The pixels a `Diagram.legend` row of these entries takes (about 7 px a character)."""
    return sum(20 + 7 * len(label) + gap for _, label in entries)


@dataclass
class Diagram:
    """An SVG canvas `width` x `height` pixels with a title and a description (required)."""

    width: int
    height: int
    title: str
    description: str
    _parts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a diagram needs a positive size, got {self.width} x {self.height}")
        if not self.title.strip() or not self.description.strip():
            raise ValueError("a diagram needs a title and a description: its text alternative")

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        label: str = "",
        fill: str = "plain",
        size: int = 13,
        dashed: bool = False,
    ) -> Diagram:
        """A rectangle with its top-left corner at (x, y), `label` centred in it."""
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self._parts.append(
            f'<rect class="fill-{fill}" x="{x}" y="{y}" width="{w}" height="{h}" rx="3"{dash}/>'
        )
        if label:
            self.text(x + w / 2, y + h / 2, label, size=size)
        return self

    def text(
        self,
        x: float,
        y: float,
        label: str,
        size: int = 13,
        anchor: str = "middle",
        muted: bool = False,
        mono: bool = False,
    ) -> Diagram:
        """`label` with its baseline centred vertically on y; anchor start, middle or end."""
        if anchor not in ("start", "middle", "end"):
            raise ValueError(f"anchor must be start, middle or end, got {anchor!r}")
        cls = "label muted" if muted else "label"
        family = ' font-family="monospace"' if mono else ""
        self._parts.append(
            f'<text class="{cls}" x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" '
            f'dominant-baseline="central"{family}>{_esc(label)}</text>'
        )
        return self

    def line(self, x1: float, y1: float, x2: float, y2: float, dashed: bool = False) -> Diagram:
        """A plain stroke from (x1, y1) to (x2, y2)."""
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self._parts.append(f'<line class="ink" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{dash}/>')
        return self

    def arrow(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        label: str = "",
        size: int = 12,
        dashed: bool = False,
    ) -> Diagram:
        """An arrow from (x1, y1) to (x2, y2), `label` just above its middle."""
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self._parts.append(
            f'<line class="ink" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{dash} '
            f'marker-end="url(#{{arrow}})"/>'
        )
        if label:
            self.text((x1 + x2) / 2, (y1 + y2) / 2 - 9, label, size=size, muted=True)
        return self

    def legend(
        self, x: float, y: float, entries: list[tuple[str, str]], gap: float = 24
    ) -> Diagram:
        """A row of (fill, label) swatches from (x, y), each 14 px, its label after it;
        fill "empty" is a dashed outline (an allocated, unused slot)."""
        for fill, label in entries:
            dashed = fill == "empty"
            self.box(x, y - 7, 14, 14, fill="none" if dashed else fill, dashed=dashed)
            self.text(x + 20, y, label, anchor="start", size=12)
            x += legend_width([(fill, label)], gap)
        return self

    def svg(self) -> str:
        """The diagram as an inline HTML figure (for a markdown-exec block, html="true")."""
        n = next(_ids)
        arrow, title, desc = f"gu-arrow-{n}", f"gu-title-{n}", f"gu-desc-{n}"
        body = "\n".join(self._parts).replace("{arrow}", arrow)
        return (
            f'<figure class="gu-diagram">'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" '
            f'aria-labelledby="{title} {desc}">'
            f'<title id="{title}">{_esc(self.title)}</title>'
            f'<desc id="{desc}">{_esc(self.description)}</desc>'
            f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="currentColor"/></marker></defs>\n'
            f"{body}</svg></figure>"
        )
