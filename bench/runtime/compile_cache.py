"""Whether a cell's compile was a load from a persistent cache, as the method's framework reports it:
its runtime record's watch (bench.spec.runtime) counts cache hits and writes between start and verdict
(JAX's monitoring events; new module folders in PyTensor's compile directory).

`info.compile_cache` is "hit" (every cached compile was loaded), "miss" (compiled and written),
"partial" (some of each) or "uncached" (the framework compiled nothing the cache keeps: the cache
is off, the framework keeps none, or each compile was under its minimum compile time for an entry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.spec.runtime import Framework


class Watch:
    """Counts cache loads and writes between start() and verdict(), for the framework a method runs on."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework
        self._counts: Callable[[], tuple[int, int]] | None = None

    def start(self) -> None:
        self._counts = self.framework.compile_cache() if self.framework.compile_cache is not None else None

    def verdict(self) -> dict[str, Any]:
        hits, writes = self._counts() if self._counts is not None else (0, 0)
        if hits and writes:
            kind = "partial"
        elif hits:
            kind = "hit"
        elif writes:
            kind = "miss"
        else:
            kind = "uncached"
        return {"compile_cache": kind, "compile_cache_events": {"hits": hits, "writes": writes}}
