"""Train the site model's independent runs in parallel before the pages ask for them.

Off by default: with `$GROUNDUP_BUILD_WORKERS` unset or 1 the pages train what they
need one run after another, as they always have. On a machine with more cores,
`GROUNDUP_BUILD_WORKERS=4 mkdocs build` trains the site model, its ablations and its
variants in four processes first (`groundup.pages.site_runs`); the pages then load them
from the cache. A cached run is never retrained, so a warm build does nothing here.
"""

from __future__ import annotations

import os
from typing import Any


def workers_from_environment() -> int:
    """`$GROUNDUP_BUILD_WORKERS` as a positive int (1 when unset), or a clear error."""
    value = os.environ.get("GROUNDUP_BUILD_WORKERS", "1").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"GROUNDUP_BUILD_WORKERS must be a positive integer, got {value!r}")
    return int(value)


def on_pre_build(config: Any, **kwargs: Any) -> None:
    workers = workers_from_environment()
    if workers > 1:
        from groundup.pages.site_runs import train_site_runs

        trained = train_site_runs(workers)
        if trained:
            print(f"site_runs: trained {len(trained)} runs in {workers} processes")
