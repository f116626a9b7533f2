"""What a run was measured on: versions, CPU, GPU, threads and the project's code state."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from functools import cache
from pathlib import Path

import backends
from bench.runtime import gpu, threads
from bench.runtime.gpu import gpus

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # bench/runtime/environment.py -> the checkout
# The harness's own numerical stack; each backend's runtime record adds its framework's and its own.
CORE_PACKAGES = ("numpy", "scipy", "arviz", "arviz-stats", "scikit-learn", "pandas")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def packages() -> tuple[str, ...]:
    """The distributions every environment record versions: the core and every registered backend's."""
    names = [*CORE_PACKAGES]
    for runtime in backends.runtimes():
        names += [*runtime.framework.packages, *runtime.packages]
    return tuple(dict.fromkeys(names))


def package_versions(names: tuple[str, ...] | None = None) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in packages() if names is None else names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@cache
def code_version() -> dict[str, str | bool | None]:
    """Commit, dirty flag and a hash of the uncommitted diff (so edits change cell hashes)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "diff_sha": None}
    diff = _git("diff", "HEAD", "--", "bench", "backends", "suites") or ""
    status = _git("status", "--porcelain", "--", "bench", "backends", "suites") or ""
    dirty = bool(status.strip())
    return {
        "commit": commit.strip(),
        "dirty": dirty,
        "diff_sha": hashlib.sha256((diff + status).encode()).hexdigest()[:16] if dirty else None,
    }


def capture(dtype: str, device: str, extra: dict | None = None) -> dict:
    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpus(),
        "cuda": gpu.cuda_versions(),  # the driver's CUDA and the CUDA each framework's wheels carry
        "gpu_probe": gpu.probed(),  # what each framework reported in this run's --device gpu pre-flight
        "device": device,
        "dtype": dtype,
        "threads": {name: os.environ.get(name) for name in (*THREAD_VARIABLES, *threads.framework_variables())},
        "packages": package_versions(),
        **code_version(),
    }
    env.update(extra or {})
    return env


def environment_id(env: dict) -> str:
    return hashlib.sha256(json.dumps(env, sort_keys=True, default=str).encode()).hexdigest()[:16]
