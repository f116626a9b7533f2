"""JAX's runtime record (bench.spec.runtime), shared by the NumPyro and BlackJAX backends.

Light: it imports no JAX. Its hooks look in `sys.modules` and do nothing where JAX is not loaded;
the GPU probe is a script run in a subprocess of its own.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from bench.spec.runtime import Framework, GpuProbe, WorkerSetup

# XLA:CPU has no flag for N > 1 threads: its pool is sized by cores; one thread is a flag of its own.
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"
GPU_FIX = "pip install 'bench[gpu]' for CUDA 12 drivers, 'bench[cuda13]' for CUDA 13"
CUDA_PACKAGES = ("jax-cuda12-plugin", "jax-cuda13-plugin", "jax-cuda12-pjrt", "jax-cuda13-pjrt")
# JAX's monitoring events for its persistent compilation cache
CACHE_EVENTS = {"/jax/compilation_cache/cache_hits": "hits", "/jax/compilation_cache/cache_misses": "writes"}


def worker_env(setup: WorkerSetup) -> dict[str, str]:
    env = {"JAX_ENABLE_X64": "1" if setup.dtype == "float64" else "0"}
    if setup.device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    else:
        env["JAX_PLATFORMS"] = "cuda"
        # each cell is its own process and may share the GPU with other cells (--jobs > 1, or Dask
        # workers), so JAX allocates on demand instead of taking 75% up front (on every GPU cell, not
        # only shared ones: one rule, and peak memory means the same everywhere)
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if setup.cache_dir is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = str(setup.cache_dir / "jax")
        # every compile is kept, however short: a warm cell then loads all of them, and whether a
        # compile was a cache load does not depend on how fast this machine compiled it the first time
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def thread_env(threads: int, inherited: Mapping[str, str]) -> dict[str, str]:
    """XLA's flags, merged with any the caller had, its own Eigen setting replaced."""
    flags = [f for f in inherited.get("XLA_FLAGS", "").split() if not f.startswith("--xla_cpu_multi_thread_eigen")]
    if threads == 1:
        flags.append(SINGLE_THREAD_XLA)
    return {"XLA_FLAGS": " ".join(flags)}


def peak_device_bytes(device: str) -> float:
    """The allocator's peak (`memory_stats`); NaN where it reports none (JAX's CPU client)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return math.nan
    stats = jax.devices()[0].memory_stats() or {}
    return float(stats["peak_bytes_in_use"]) if "peak_bytes_in_use" in stats else math.nan


_EVENTS: Counter = Counter()
_LISTENING: list[bool] = []


def watch_compile_cache() -> Callable[[], tuple[int, int]]:
    """Count JAX's cache-hit and cache-miss events from now on (the listener is registered once)."""
    if not _LISTENING and "jax" in sys.modules:
        from jax import monitoring  # JAX is loaded already: the fit module imported it

        def on_event(event: str, **kwargs: Any) -> None:
            if event in CACHE_EVENTS:
                _EVENTS[CACHE_EVENTS[event]] += 1

        monitoring.register_event_listener(on_event)
        _LISTENING.append(True)
    hits, writes = _EVENTS["hits"], _EVENTS["writes"]
    return lambda: (_EVENTS["hits"] - hits, _EVENTS["writes"] - writes)


def precision(dtype: str):
    """JAX computes in float32 unless x64 is on: scoped, so float32 callers in this process stay so."""
    import jax  # called right before an in-process JAX fit

    return jax.enable_x64(dtype == "float64")


def fork_hazard() -> str:
    bridge = sys.modules.get("jax._src.xla_bridge")
    if bridge is not None and getattr(bridge, "_backends", None):
        return "a JAX backend was initialised during the imports"
    return ""


GPU_PROBE = f"""
import importlib.util, json
plugins = [m for m in ("jax_cuda12_plugin", "jax_cuda13_plugin") if importlib.util.find_spec(m)]
try:
    import jax
except ImportError:
    print(json.dumps({{"ok": False, "reason": "jax is not installed (pip install 'bench[numpyro]')"}}))
    raise SystemExit
info = {{"version": jax.__version__, "plugins": plugins}}
try:
    devices = jax.devices("gpu")
    info["devices"] = [d.device_kind for d in devices]
    info["platform_version"] = getattr(devices[0].client, "platform_version", None)
    print(json.dumps({{"ok": True, "reason": "", "info": info}}))
except Exception as exc:  # RuntimeError, or AssertionError from JAX 0.10 without a plugin
    first = (str(exc) or type(exc).__name__).strip().splitlines()
    first = (first or ["no message"])[0][:200]
    reason = (f"jax {{jax.__version__}} has no CUDA backend ({GPU_FIX})" if not plugins
              else f"jax {{jax.__version__}}'s CUDA backend sees no GPU: {{first}}")
    print(json.dumps({{"ok": False, "reason": reason, "info": info}}))
"""

JAX = Framework(
    name="jax",
    packages=("jax", "jaxlib"),
    worker_env=worker_env,
    thread_env=thread_env,
    gpu=GpuProbe(GPU_PROBE, packages=CUDA_PACKAGES),
    peak_device_bytes=peak_device_bytes,
    compile_cache=watch_compile_cache,
    fork_hazard=fork_hazard,
    precision=precision,
)
