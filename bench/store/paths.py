"""Where output goes by default: one place, so every command agrees."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS = Path("results")
DEFAULT_STORE = RESULTS / "bench.sqlite"
REPORTS_DIR = RESULTS / "reports"
FIGURES_DIR = RESULTS / "figures"


def draws_beside(store: Path) -> Path:
    """Saved ArviZ draws (--save-draws) live beside the store."""
    return store.parent / "draws"


COMPILE_CACHE_VARIABLE = "BENCH_COMPILE_CACHE_DIR"


def compile_cache_beside(store: Path) -> Path:
    """The persistent compile caches (a folder per framework): beside the store, or wherever
    BENCH_COMPILE_CACHE_DIR points, so several stores (a test suite's, a user's per-study stores)
    can share one warm cache instead of each paying every cold compile again."""
    shared = os.environ.get(COMPILE_CACHE_VARIABLE)
    return Path(shared) if shared else store.parent / "cache"
