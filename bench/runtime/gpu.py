"""The GPU path's checks and measurements: the pre-flight, peak device memory, CUDA versions.

`nvidia-smi` listing a GPU says nothing about whether JAX or torch can use it (a CPU-only jaxlib,
a CPU build of torch): the pre-flight asks each chosen framework itself, in a short subprocess
with the environment a GPU cell's worker gets, before anything runs. No framework sees a GPU:
one line naming the fix, exit 2. Some do: the others' cells are `unsupported` with the reason.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bench.spec.errors import BenchInputError

FRAMEWORKS = ("jax", "torch")
PROBE_TIMEOUT_S = 120.0
JAX_FIX = "pip install 'bench[gpu]' for CUDA 12 drivers, 'bench[cuda13]' for CUDA 13"
TORCH_FIX = (
    "install a CUDA build from PyTorch's wheel index, e.g. "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130"
)
# Worker environment for GPU cells: each cell is its own process and may share the GPU with other
# cells (--jobs > 1, or Dask workers), so JAX allocates on demand instead of taking 75% up front.
# (Set on every GPU cell, not only shared ones: one rule, and peak memory means the same everywhere.)
GPU_WORKER_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}

_JAX_PROBE = f"""
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
    reason = (f"jax {{jax.__version__}} has no CUDA backend ({JAX_FIX})" if not plugins
              else f"jax {{jax.__version__}}'s CUDA backend sees no GPU: {{first}}")
    print(json.dumps({{"ok": False, "reason": reason, "info": info}}))
"""

_TORCH_PROBE = f"""
import json
try:
    import torch
except ImportError:
    print(json.dumps({{"ok": False, "reason": "torch is not installed (pip install 'bench[torch]')"}}))
    raise SystemExit
info = {{"version": torch.__version__, "cuda": torch.version.cuda}}
if torch.version.cuda is None:
    print(json.dumps({{"ok": False, "reason": f"torch {{torch.__version__}} is a CPU build ({TORCH_FIX})", "info": info}}))
elif not torch.cuda.is_available():
    reason = f"torch {{torch.__version__}} (CUDA {{torch.version.cuda}}) sees no CUDA device (torch.cuda.is_available() is False)"
    print(json.dumps({{"ok": False, "reason": reason, "info": info}}))
else:
    info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["cudnn"] = torch.backends.cudnn.version()
    print(json.dumps({{"ok": True, "reason": "", "info": info}}))
"""

PROBES = {"jax": _JAX_PROBE, "torch": _TORCH_PROBE}


@dataclass(frozen=True)
class Probe:
    framework: str
    ok: bool
    reason: str = ""  # why it cannot use a GPU, naming the fix
    info: Mapping[str, Any] = field(default_factory=dict)  # versions and devices the framework reports


def framework_of(requires: Iterable[str]) -> str | None:
    """The GPU framework a method runs on (from its required modules); None for PyMC and test methods."""
    required = set(requires)
    return next((name for name in FRAMEWORKS if name in required), None)


def probe_environment(framework: str) -> dict[str, str]:
    """What a GPU cell's worker sees (bench.execution.executors.worker_environment), for the probe."""
    env = dict(os.environ)
    env.update(GPU_WORKER_ENV)
    if framework == "jax":
        env["JAX_PLATFORMS"] = "cuda"
    return env


def _parse(framework: str, returncode: int, stdout: str, stderr: str) -> Probe:
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if returncode == 0 and lines:
        out = json.loads(lines[-1])
        return Probe(framework, bool(out["ok"]), out.get("reason", ""), out.get("info", {}))
    tail = (stderr.strip().splitlines() or [f"exit code {returncode}"])[-1][:200]
    return Probe(framework, False, f"the {framework} GPU probe failed: {tail}")


@cache
def probe_all(frameworks: tuple[str, ...]) -> dict[str, Probe]:
    """Each framework asked, in its own subprocess (run side by side), whether it sees a GPU."""
    procs = {
        name: subprocess.Popen([sys.executable, "-c", PROBES[name]], env=probe_environment(name), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        for name in frameworks
    }  # fmt: skip
    results: dict[str, Probe] = {}
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results[name] = Probe(name, False, f"the {name} GPU probe took over {PROBE_TIMEOUT_S:g} s")
            continue
        results[name] = _parse(name, proc.returncode, stdout, stderr)
    _FOUND.update(results)
    return results


def decide(probes: Mapping[str, Probe], method_frameworks: Mapping[str, str | None], gpus_listed: bool) -> dict[str, str]:
    """{method: reason} for the methods whose framework sees no GPU. Raises (exit 2) when no
    framework does; methods without a GPU framework (PyMC, test methods) are left to themselves."""
    needed = {fw for fw in method_frameworks.values() if fw is not None}
    if needed and not any(probes[fw].ok for fw in needed):
        machine = "" if gpus_listed else " (nvidia-smi lists none on this machine)"
        reasons = "; ".join(probes[fw].reason for fw in sorted(needed))
        raise BenchInputError(f"--device gpu: no GPU is visible to any chosen framework{machine}: {reasons}; "
                              "valid choices: cpu")  # fmt: skip
    return {m: probes[fw].reason for m, fw in method_frameworks.items() if fw is not None and not probes[fw].ok}


def preflight(method_requires: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """The pre-flight for `--device gpu`: {method name: unsupported reason} (see `decide`)."""

    frameworks = {name: framework_of(requires) for name, requires in method_requires.items()}
    needed = tuple(sorted({fw for fw in frameworks.values() if fw is not None}))
    probes = probe_all(needed) if needed else {}
    return decide(probes, frameworks, bool(gpus()))


def probed() -> dict[str, dict[str, Any]]:
    """What the pre-flights of this process found (versions, devices, reasons), for the environment record."""
    return {name: {"ok": p.ok, "reason": p.reason, **p.info} for name, p in _FOUND.items()}


_FOUND: dict[str, Probe] = {}


# -- measurements inside a cell's worker -----------------------------------------------------------
def peak_memory(device: str, framework: str | None) -> dict[str, float]:
    """Peak memory of the fit so far: the device allocator's peak (JAX `memory_stats`,
    `torch.cuda.max_memory_allocated`) where the framework reports one, NaN otherwise (JAX's CPU
    client reports none), and the process's peak resident set (Linux reports KiB)."""
    device_bytes = math.nan
    if framework == "jax" and "jax" in sys.modules:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            device_bytes = float(stats["peak_bytes_in_use"])
    elif framework == "torch" and device == "gpu" and "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            device_bytes = float(torch.cuda.max_memory_allocated())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"peak_device_bytes": device_bytes, "peak_rss_bytes": float(rss)}


# -- the environment record -------------------------------------------------------------------------
CUDA_PACKAGES = ("jax-cuda12-plugin", "jax-cuda13-plugin", "jax-cuda12-pjrt", "jax-cuda13-pjrt",
                 "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime", "nvidia-cudnn-cu12", "nvidia-cudnn-cu13")  # fmt: skip


@cache
def cuda_versions() -> dict[str, Any]:
    """CUDA as the driver reports it (nvidia-smi's header) and as the installed wheels carry it
    (JAX's CUDA plugins, torch's build), without importing a framework."""
    found: dict[str, Any] = {"driver_cuda": _nvidia_smi_cuda()}
    for name in (*CUDA_PACKAGES, "torch"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _nvidia_smi_cuda() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"CUDA Version:\s*([\d.]+)", out)
    return match.group(1) if match else None


@cache
def gpus() -> list[dict[str, str]]:
    """Visible NVIDIA GPUs (name, driver) from nvidia-smi; empty where there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.split(", ") for line in out.strip().splitlines() if line.strip()]
    return [{"name": r[0], "driver": r[1], "memory": r[2] if len(r) > 2 else ""} for r in rows]
