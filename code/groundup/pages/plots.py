"""Plots for the site: matplotlib figures rendered to inline SVG at build time.

Axes, ticks and text are drawn in `currentColor`, so one SVG reads well in both
the light and the dark theme.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_INK = "#010101"  # a sentinel colour, swapped for currentColor in the SVG
_STYLE: dict[Any, Any] = {
    "text.color": _INK,
    "axes.labelcolor": _INK,
    "axes.edgecolor": _INK,
    "xtick.color": _INK,
    "ytick.color": _INK,
    "axes.facecolor": "none",
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.facecolor": "none",
    "legend.edgecolor": _INK,
    "legend.framealpha": 0.0,
    "font.size": 11,
    "svg.fonttype": "none",
    "svg.hashsalt": "groundup",
}


def figure(width: float = 7.0, height: float = 3.6, **kwargs: Any) -> tuple[Figure, Any]:
    """A new (figure, axes) pair in the site's style."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height), **kwargs)
    return fig, ax


def to_svg(fig: Figure, alt: str = "") -> str:
    """Render `fig` as an inline SVG (an HTML string) and close it."""
    buffer = io.StringIO()
    with plt.rc_context(_STYLE):
        fig.tight_layout()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :].replace(_INK, "currentColor")
    label = f' role="img" aria-label="{alt}"' if alt else ""
    return f'<div class="gu-figure"{label}>{svg}</div>'
