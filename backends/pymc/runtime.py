"""PyTensor's runtime record (bench.spec.runtime), the framework under the PyMC backend. Light: it
imports no PyTensor; its hooks look in `sys.modules`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from bench.spec.runtime import Framework, WorkerSetup


def worker_env(setup: WorkerSetup) -> dict[str, str]:
    """The run's dtype, and a compile directory per concurrent slot. PyTensor locks its directory
    while compiling, so parallel cells sharing one would serialise; cells that follow each other in
    a slot still reuse its compiled modules (warm compiles take seconds, cold ones tens)."""
    flags = [f"floatX={setup.dtype}"]
    if setup.cache_dir is not None:
        flags.append(f"compiledir={setup.cache_dir / 'pytensor' / f'slot-{setup.slot}'}")
    return {"PYTENSOR_FLAGS": ",".join(filter(None, [setup.inherited.get("PYTENSOR_FLAGS", ""), *flags]))}


def report_threads() -> dict | None:
    """The BLAS PyTensor links and whether its OpenMP is on."""
    pytensor = sys.modules.get("pytensor")
    if pytensor is None:
        return None
    return {"blas__ldflags": pytensor.config.blas__ldflags, "openmp": bool(pytensor.config.openmp)}


def _compiled_modules() -> int | None:
    if "pytensor" not in sys.modules:
        return None
    folder = Path(sys.modules["pytensor"].config.compiledir)
    try:
        return sum(1 for entry in os.scandir(folder) if entry.is_dir())
    except OSError:
        return None


def watch_compile_cache() -> Callable[[], tuple[int, int]]:
    """New module folders in the compile directory are fresh compiles; none new means every compiled
    function was found there (one hit)."""
    before = _compiled_modules()

    def counts() -> tuple[int, int]:
        after = _compiled_modules()
        if after is None or before is None:
            return 0, 0
        return int(after == before), max(0, after - before)

    return counts


PYTENSOR = Framework(
    name="pytensor",
    packages=("pytensor",),
    worker_env=worker_env,
    report_threads=report_threads,
    compile_cache=watch_compile_cache,
)
