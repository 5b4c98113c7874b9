"""Attention maps as heatmaps, in the site's plot style (see `groundup.pages.plots`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
import torch


def attention_map(
    ax: Any,
    weights: torch.Tensor,
    labels: Sequence[str],
    key_labels: Sequence[str] | None = None,
    title: str | None = None,
    colorbar: bool = False,
) -> Any:
    """Draw one head's weights (T, S) on `ax`: row i = query i, column j = key j.

    Entries a causal mask removed (exactly 0 above the diagonal) are left blank,
    so the page background shows through; the colour scale runs from 0 to 1.
    Returns the image (for a shared colour bar).
    """
    w = weights.detach().to(torch.float32).cpu()
    if w.dim() != 2:
        raise ValueError(f"weights must be (T, S), got shape {tuple(w.shape)}")
    T, S = w.shape
    key_labels = labels if key_labels is None else key_labels
    if len(labels) != T or len(key_labels) != S:
        raise ValueError(
            f"{len(labels)} query and {len(key_labels)} key labels for weights {T}x{S}"
        )
    shown = w.numpy().copy()
    future = np.triu(np.ones((T, S), dtype=bool), k=S - T + 1)
    shown[future & (shown == 0)] = np.nan
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(S), list(key_labels), rotation=90, fontsize=8)
    ax.set_yticks(range(T), list(labels), fontsize=8)
    ax.set_xlabel("key position (attended to)")
    ax.set_ylabel("query position")
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return image
