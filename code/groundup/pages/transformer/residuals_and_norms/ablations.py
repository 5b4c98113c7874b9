"""Ablations of the site model: the same training run with one part of the block removed.

Every variant is the site model's configuration with one `GPTConfig` field
changed, trained by `load_site_model` on the same data, with the same
optimizer, seed and number of steps, so the held-out losses can be compared.
The runs are short (about a hundred updates), and cached like the site model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from groundup.site import SiteModel, load_site_model

# --8<-- [start:ablations]
ABLATION_TRAINING: dict[str, Any] = {
    "max_steps": 120,
    "warmup_steps": 12,
    "eval_interval": 10,
    "eval_iters": 4,
}

ABLATIONS: dict[str, dict[str, Any]] = {
    "full model": {},
    "no residual connections": {"residual": False},
    "no normalisation": {"norm": "none"},
    "no MLP": {"mlp": "none"},
}
# --8<-- [end:ablations]


@dataclass
class AblationRun:
    """One variant's training run and its scores."""

    name: str
    changes: dict[str, Any]  # the GPTConfig fields changed from the site model
    site: SiteModel

    @property
    def diverged(self) -> bool:
        """True if any training, eval or held-out loss is NaN or infinite."""
        values = [*self.site.losses, *self.site.eval_losses.values(), self.site.heldout_loss]
        return not all(math.isfinite(v) for v in values)

    @property
    def heldout_loss(self) -> float:
        """Mean loss over every held-out token (nats per token), NaN if diverged."""
        return math.nan if self.diverged else self.site.heldout_loss

    @property
    def parameters(self) -> int:
        return self.site.model.num_parameters()


def run_ablations(names: list[str] | None = None) -> dict[str, AblationRun]:
    """Train (or load from the cache) the variants in `names` (default: all)."""
    runs = {}
    for name in names or list(ABLATIONS):
        changes = ABLATIONS[name]
        runs[name] = AblationRun(name, changes, load_site_model(model=changes, **ABLATION_TRAINING))
    return runs


def compare(loss: float, baseline: float, tolerance: float = 0.05) -> str:
    """How a variant's loss compares with the full model's: "worse", "better" or
    "about the same" (within `tolerance` nats), or "diverged"."""
    if not math.isfinite(loss):
        return "diverged"
    if loss > baseline + tolerance:
        return "worse"
    if loss < baseline - tolerance:
        return "better"
    return "about the same"
