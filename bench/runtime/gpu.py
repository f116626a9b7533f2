"""The GPU path's checks and measurements: the pre-flight, peak device memory, CUDA versions.

`nvidia-smi` listing a GPU says nothing about whether a framework can use it (a CPU-only build of
it, a missing CUDA plugin): the pre-flight asks each chosen framework itself, with the probe its
backend's runtime record declares (bench.spec.runtime), in a short subprocess with the environment
a GPU cell's worker gets, before anything runs. No framework sees a GPU: one line naming the fix,
exit 2. Some do: the others' cells are `unsupported` with the reason.
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

import backends
from bench.spec.errors import BenchInputError
from bench.spec.runtime import GpuProbe, WorkerSetup

PROBE_TIMEOUT_S = 120.0


def gpu_frameworks() -> tuple[str, ...]:
    """The registered frameworks that declare a GPU probe."""
    return tuple(name for name, fw in backends.frameworks().items() if fw.gpu is not None)


@dataclass(frozen=True)
class Probe:
    framework: str
    ok: bool
    reason: str = ""  # why it cannot use a GPU, naming the fix
    info: Mapping[str, Any] = field(default_factory=dict)  # versions and devices the framework reports


def framework_of(method: str) -> str | None:
    """The framework whose GPU probe decides a method's GPU cells; None where its backend's runtime
    record declares no GPU probe (a CPU-only framework, the test methods)."""
    framework = backends.runtime_of(method).framework
    return framework.name if framework.gpu is not None else None


def probe_environment(framework: str) -> dict[str, str]:
    """What a GPU cell's worker sees (bench.execution.executors.worker_environment), for the probe."""
    env = dict(os.environ)
    env.update(
        backends.frameworks()[framework].worker_env(
            WorkerSetup(device="gpu", dtype="float32", threads=1, inherited=env)
        )
    )
    return env


def _parse(framework: str, returncode: int, stdout: str, stderr: str) -> Probe:
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if returncode == 0 and lines:
        out = json.loads(lines[-1])
        return Probe(framework, bool(out["ok"]), out.get("reason", ""), out.get("info", {}))
    tail = (stderr.strip().splitlines() or [f"exit code {returncode}"])[-1][:200]
    return Probe(framework, False, f"the {framework} GPU probe failed: {tail}")


def _probe(framework: str) -> GpuProbe:
    probe = backends.frameworks()[framework].gpu
    if probe is None:
        raise ValueError(f"{framework} declares no GPU probe")
    return probe


@cache
def probe_all(frameworks: tuple[str, ...]) -> dict[str, Probe]:
    """Each framework asked, in its own subprocess (run side by side), whether it sees a GPU."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", _probe(name).script],
            env=probe_environment(name),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for name in frameworks
    }
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


def decide(
    probes: Mapping[str, Probe], method_frameworks: Mapping[str, str | None], gpus_listed: bool
) -> dict[str, str]:
    """{method: reason} for the methods whose framework sees no GPU. Raises (exit 2) when no
    framework does; methods whose framework declares no GPU probe are left to their own reasons."""
    needed = {fw for fw in method_frameworks.values() if fw is not None}
    if needed and not any(probes[fw].ok for fw in needed):
        machine = "" if gpus_listed else " (nvidia-smi lists none on this machine)"
        reasons = "; ".join(probes[fw].reason for fw in sorted(needed))
        raise BenchInputError(
            f"--device gpu: no GPU is visible to any chosen framework{machine}: {reasons}; valid choices: cpu"
        )
    return {m: probes[fw].reason for m, fw in method_frameworks.items() if fw is not None and not probes[fw].ok}


def preflight(methods: Iterable[str]) -> dict[str, str]:
    """The pre-flight for `--device gpu`: {method name: unsupported reason} (see `decide`)."""
    frameworks = {name: framework_of(name) for name in methods}
    needed = tuple(sorted({fw for fw in frameworks.values() if fw is not None}))
    probes = probe_all(needed) if needed else {}
    return decide(probes, frameworks, bool(gpus()))


def probed() -> dict[str, dict[str, Any]]:
    """What the pre-flights of this process found (versions, devices, reasons), for the environment record."""
    return {name: {"ok": p.ok, "reason": p.reason, **p.info} for name, p in _FOUND.items()}


_FOUND: dict[str, Probe] = {}


# -- measurements inside a cell's worker -----------------------------------------------------------
def peak_memory(device: str, framework: str | None) -> dict[str, float]:
    """Peak memory of the fit so far: the device allocator's peak where the framework's runtime
    record says how to read one (NaN otherwise, e.g. where its CPU client reports none), and the
    process's peak resident set (Linux reports KiB)."""
    hook = backends.frameworks()[framework].peak_device_bytes if framework is not None else None
    device_bytes = hook(device) if hook is not None else math.nan
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"peak_device_bytes": float(device_bytes), "peak_rss_bytes": float(rss)}


# -- the environment record -------------------------------------------------------------------------
# CUDA's own runtime wheels, whichever framework brought them; each framework's probe names its own
CUDA_PACKAGES = ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime", "nvidia-cudnn-cu12", "nvidia-cudnn-cu13")


@cache
def cuda_versions() -> dict[str, Any]:
    """CUDA as the driver reports it (nvidia-smi's header) and as the installed wheels carry it
    (CUDA's runtime wheels and the packages each framework's GPU probe names), without importing one."""
    found: dict[str, Any] = {"driver_cuda": _nvidia_smi_cuda()}
    names = [*CUDA_PACKAGES, *(p for fw in backends.frameworks().values() if fw.gpu for p in fw.gpu.packages)]
    for name in dict.fromkeys(names):
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
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.split(", ") for line in out.strip().splitlines() if line.strip()]
    return [{"name": r[0], "driver": r[1], "memory": r[2] if len(r) > 2 else ""} for r in rows]
