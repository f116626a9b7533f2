"""What the harness needs to know about a backend's framework, declared by the backend itself.

Each backend package exposes `RUNTIME` beside `METHODS` in its light `__init__`: a `BackendRuntime`
naming the `Framework` it runs on (shared by backends on one framework, as NumPyro and BlackJAX
share JAX), the packages to version, and what a worker's fork server may preload. The harness
(bench.runtime, bench.execution) loops over these records and names no framework itself.

Every hook runs in the harness's processes and must not import its framework (`precision` aside,
called right before an in-process fit that imports it anyway): it looks in `sys.modules` and does
nothing where the framework is not loaded. Scripts (the GPU probe) run in a subprocess of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WorkerSetup:
    """What a cell's worker process is started with: the input to each framework's environment."""

    device: str  # "cpu" | "gpu"
    dtype: str  # "float32" | "float64"
    threads: int
    cache_dir: Path | None = None  # the run's persistent compile caches (a folder per framework inside); None: off
    slot: int = 0  # the concurrent worker slot (a cache a framework locks while compiling gets one per slot)
    inherited: Mapping[str, str] = field(default_factory=dict)  # the environment before the frameworks' variables


@dataclass(frozen=True)
class GpuProbe:
    """How to ask a framework, in a short subprocess, whether it can use a GPU."""

    script: str  # `python -c` code printing one JSON line {"ok": bool, "reason": str naming the fix, "info": {...}}
    packages: tuple[str, ...] = ()  # the wheels that carry the framework's CUDA, versioned without importing it


def _no_env(*args: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Framework:
    """One framework's runtime knowledge: environment, threads, GPU, memory, compile cache, fork safety."""

    name: str  # "jax", "torch", "pytensor": the key of its entries in records (thread report, GPU probe)
    packages: tuple[str, ...] = ()  # distributions versioned in every environment record
    # variables every worker starts with (device, dtype, caches), from its setup; merged with the others'
    worker_env: Callable[[WorkerSetup], Mapping[str, str]] = _no_env
    # variables that size the framework's thread pools, given the thread count and the inherited environment
    thread_env: Callable[[int, Mapping[str, str]], Mapping[str, str]] = _no_env
    configure_threads: Callable[[int], None] | None = None  # in the worker once imported: pools sized by call
    report_threads: Callable[[], dict[str, Any] | None] | None = None  # what it uses once loaded; None: not loaded
    gpu: GpuProbe | None = None  # None: its methods have no GPU path to probe
    peak_device_bytes: Callable[[str], float] | None = None  # the device allocator's peak for a device, NaN if unknown
    # starts a watch on the persistent compile cache; the returned function counts (hits, writes) since the start
    compile_cache: Callable[[], Callable[[], tuple[int, int]]] | None = None
    fork_hazard: Callable[[], str] | None = None  # why forking now would not give a clean process ("" when it would)
    # A scope in which a fit run in this process computes in a dtype (in-process fits: reference builds);
    # called just before such a fit, it may import the framework. None: the dtype needs no switch.
    precision: Callable[[str], AbstractContextManager] | None = None


NO_FRAMEWORK = Framework("none")  # methods that load no framework (the test methods)


@dataclass(frozen=True)
class BackendRuntime:
    """A backend's runtime record: its framework, its own packages, and what a fork server may preload."""

    framework: Framework = NO_FRAMEWORK
    packages: tuple[str, ...] = ()  # the backend's own distributions (beyond its framework's), versioned
    # What a zygote imports before forking this backend's cells; None: the method's fit module. A backend
    # whose own import makes forking unsafe (BlackJAX compiles while it is imported) names what comes before it.
    preload: tuple[str, ...] | None = None

    def preload_for(self, fit_module: str) -> tuple[str, ...]:
        return (fit_module,) if self.preload is None else self.preload
