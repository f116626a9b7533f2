"""Whether a cell's compile was a load from a persistent cache: JAX's compilation cache (its
monitoring events) and PyTensor's compile directory (new module folders mean a fresh compile).

`info.compile_cache` is "hit" (every cached compile was loaded), "miss" (compiled and written),
"partial" (some of each) or "uncached" (the framework compiled nothing the cache keeps: the cache
is off, or each compile was under JAX's minimum compile time for an entry).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_JAX_EVENTS: Counter = Counter()
_JAX_LISTENING: list[bool] = []
EVENTS = {"/jax/compilation_cache/cache_hits": "hits", "/jax/compilation_cache/cache_misses": "writes"}


def _listen_to_jax() -> None:
    if _JAX_LISTENING or "jax" not in sys.modules:
        return
    from jax import monitoring

    def on_event(event: str, **kwargs: Any) -> None:
        if event in EVENTS:
            _JAX_EVENTS[EVENTS[event]] += 1

    monitoring.register_event_listener(on_event)
    _JAX_LISTENING.append(True)


def _pytensor_modules() -> int | None:
    if "pytensor" not in sys.modules:
        return None
    folder = Path(sys.modules["pytensor"].config.compiledir)
    try:
        return sum(1 for entry in os.scandir(folder) if entry.is_dir())
    except OSError:
        return None


class Watch:
    """Counts cache loads and writes between start() and verdict(), for the frameworks a method requires."""

    def __init__(self, requires: tuple[str, ...]) -> None:
        self.jax = "jax" in requires
        self.pytensor = bool({"pymc", "pytensor"} & set(requires))

    def start(self) -> None:
        if self.jax:
            _listen_to_jax()
        _JAX_EVENTS.clear()
        self._pytensor_before = _pytensor_modules() if self.pytensor else None

    def verdict(self) -> dict[str, Any]:
        counts = {"hits": _JAX_EVENTS["hits"], "writes": _JAX_EVENTS["writes"]}
        after = _pytensor_modules() if self.pytensor else None
        if after is not None and self._pytensor_before is not None:
            counts["writes"] += max(0, after - self._pytensor_before)
            counts["hits"] += int(after == self._pytensor_before)  # compiled functions found in the folder
        if counts["hits"] and counts["writes"]:
            kind = "partial"
        elif counts["hits"]:
            kind = "hit"
        elif counts["writes"]:
            kind = "miss"
        else:
            kind = "uncached"
        return {"compile_cache": kind, "compile_cache_events": counts}
