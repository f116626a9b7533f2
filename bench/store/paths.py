"""Where output goes by default: one place, so every command agrees."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path("results")
DEFAULT_STORE = RESULTS / "bench.sqlite"
REPORTS_DIR = RESULTS / "reports"
FIGURES_DIR = RESULTS / "figures"


def draws_beside(store: Path) -> Path:
    """Saved ArviZ draws (--save-draws) live beside the store."""
    return store.parent / "draws"
