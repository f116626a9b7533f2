"""Shared test set-up: test-only methods registered, JAX's compilation cache on, slow/gpu markers."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["BENCH_TEST_METHODS"] = "1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".pytest_cache" / "bench-cache" / "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
# Every `bench run` a test starts, in either test worker, shares one warm compile cache (JAX's and
# PyTensor's, which lock their own files), instead of compiling everything cold beside its own tmp
# store; in-process PyMC fits use the same PyTensor folder. Tests of the cache itself pass their own.
SHARED_CACHE = ROOT / ".pytest_cache" / "bench-cache"
os.environ.setdefault("BENCH_COMPILE_CACHE_DIR", str(SHARED_CACHE))
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={SHARED_CACHE / 'pytensor' / 'slot-0'},gcc__cxxflags=-O0")
# Tests check what is computed, not how fast: compilers skip their optimisation passes (XLA's backend
# and g++ for PyTensor's C code), a fifth to a quarter less compile time on CI's 2 cores. Every timing
# the project reports comes from `bench` runs and benchmark scripts, which never set these.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

HAS_NUMPYRO = all(importlib.util.find_spec(m) is not None for m in ("jax", "numpyro", "optax"))
requires_numpyro = pytest.mark.skipif(
    not HAS_NUMPYRO, reason="numpyro extra not installed: pip install 'bench[numpyro]'"
)
HAS_BLACKJAX = HAS_NUMPYRO and importlib.util.find_spec("blackjax") is not None
requires_blackjax = pytest.mark.skipif(
    not HAS_BLACKJAX, reason="blackjax extra not installed: pip install 'bench[blackjax]'"
)
HAS_PYMC = all(importlib.util.find_spec(m) is not None for m in ("pymc", "pytensor"))
requires_pymc = pytest.mark.skipif(not HAS_PYMC, reason="pymc extra not installed: pip install 'bench[pymc]'")
HAS_TORCH = importlib.util.find_spec("torch") is not None
requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch extra not installed: pip install 'bench[torch]'")


def fit_method(
    method_name,
    problem_name,
    variant="",
    overrides=None,
    *,
    draws=4000,
    repeats=1,
    seed=0,
    device="cpu",
    dtype="float32",
    protocol="recipe",
):
    """One method fitted in-process the way a cell's worker does: (problem, data, FitResult)."""
    import backends
    import suites
    from bench.spec.fitting import FitContext
    from bench.spec.methods import resolve_settings

    problem = suites.get_problem(problem_name)
    method = backends.get_method(method_name)
    settings = resolve_settings(method, problem, variant, overrides or {}, protocol)
    data = problem.make_data(seed)
    result = method.load_fit()(
        problem, data, method.make_settings(settings), FitContext(seed, device, dtype, repeats, draws)
    )
    return problem, data, result


COINFLIP_POSTERIOR_MEAN = 13 / 22  # Beta(13, 9): 12 heads in 20 flips under a uniform prior
COINFLIP_LOG_EVIDENCE = -14.7883  # log B(13, 9)


def assert_recovers_coinflip(problem, data, result, mean_tol=0.02, elbo_tol=0.05):
    """The fitted q's mean is the exact posterior mean, and its ELBO (log q Jacobian-corrected)
    reaches the exact log evidence, each within its tolerance."""
    from bench import scoring

    assert result.draws["f"].mean() == pytest.approx(COINFLIP_POSTERIOR_MEAN, abs=mean_tol)
    assert scoring.elbo_metrics(problem, data, result)["elbo"] == pytest.approx(COINFLIP_LOG_EVIDENCE, abs=elbo_tol)


def _cuda_visible() -> bool:
    from bench.runtime.environment import gpus

    return bool(gpus())


# The longest test files (a minute or more on 2 cores), longest first: the two test workers take
# files in collection order, so starting with these packs the run and leaves no lone long file at
# its end. The rest keep their order.
LONGEST_FIRST = (
    "test_pymc.py",
    "test_references.py",
    "test_blackjax.py",
    "test_model_problems.py",
    "test_plots.py",
    "test_cli.py",
    "test_workflow.py",
    "test_flows.py",
    "test_faults.py",
    "test_recovery_networks.py",
    "test_scale.py",
    "test_draws_export.py",
    "test_posteriordb_clone.py",
)


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: a build only for tests that run
def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, as written
    if HAS_NUMPYRO and any("small_store" in item.fixturenames for item in items):
        from tests import small_store as builder

        builder.start(_shared_temp(config._tmp_path_factory))  # built beside the tests, not before them
    if _cuda_visible():
        return
    skip = pytest.mark.skip(reason="no CUDA device visible")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory):
    """A store with toy and bnn results, two seeds, one failing method, and a short (failed) sine
    reference beside it: what the report and plot tests read. Built once per test session, in a
    process of its own started when a worker collects a test that needs it (tests/small_store.py);
    read-only for the tests."""
    if not HAS_NUMPYRO:
        pytest.skip("numpyro extra not installed: pip install 'bench[numpyro]'")
    from tests import small_store as builder

    return builder.wait(builder.start(_shared_temp(tmp_path_factory)))


def _shared_temp(tmp_path_factory) -> Path:
    """The folder every test worker of this session sees (xdist's base folder above the workers')."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
