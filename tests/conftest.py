"""Shared test set-up: test-only methods registered, JAX's compilation cache on, slow/gpu markers."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["BENCH_TEST_METHODS"] = "1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".pytest_cache" / "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

HAS_NUMPYRO = all(importlib.util.find_spec(m) is not None for m in ("jax", "numpyro", "optax"))
requires_numpyro = pytest.mark.skipif(not HAS_NUMPYRO, reason="numpyro extra not installed: pip install 'bench[numpyro]'")
HAS_BLACKJAX = HAS_NUMPYRO and importlib.util.find_spec("blackjax") is not None
requires_blackjax = pytest.mark.skipif(not HAS_BLACKJAX, reason="blackjax extra not installed: pip install 'bench[blackjax]'")
HAS_TORCH = importlib.util.find_spec("torch") is not None
requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch extra not installed: pip install 'bench[torch]'")


def _cuda_visible() -> bool:
    from bench.environment import gpus

    return bool(gpus())


def pytest_collection_modifyitems(config, items):
    if _cuda_visible():
        return
    skip = pytest.mark.skip(reason="no CUDA device visible")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
