"""Steady-state step cost of each installed backend's main method on a small problem.

pytest-benchmark in pedantic mode: the loop is compiled ahead of time before the benchmark
starts, one warm-up round runs untimed, and each round executes a fixed number of steps with
the device synchronised. Compare saved runs with `pytest-benchmark compare`.
"""

import os

import pytest

from tests.conftest import requires_numpyro

STEPS = int(os.environ.get("BENCH_PERF_STEPS", "2000"))
ROUNDS = int(os.environ.get("BENCH_PERF_ROUNDS", "10"))


def numpyro_loop(problem_name: str, guide: str):
    import jax
    import jax.numpy as jnp

    import backends
    import suites
    from backends.jax_common.model import model_data
    from backends.numpyro.svi import build_svi, make_run_loop
    from bench.spec.methods import resolve_settings

    problem = suites.get_problem(problem_name)
    method = backends.get_method("numpyro.svi")
    settings = method.make_settings(resolve_settings(method, problem, guide, {"steps": str(STEPS)}))
    svi, _ = build_svi(problem, settings)
    data = problem.make_data(0)
    train = model_data(problem, data.train, jnp.float32)
    state = jax.jit(svi.init)(jax.random.PRNGKey(0), **train)
    key = jax.random.PRNGKey(1)
    run = make_run_loop(svi, STEPS, n_train=len(data.train) if data.train is not None else 0)
    compiled = jax.jit(run).lower(state, key, train, {}).compile()
    return lambda: jax.block_until_ready(compiled(state, key, train, {}))


@requires_numpyro
@pytest.mark.parametrize("problem, guide", [("coinflip", "auto_normal"), ("moons", "auto_normal")])
def test_numpyro_svi_steps(benchmark, problem, guide):
    loop = numpyro_loop(problem, guide)
    benchmark.extra_info.update({"steps_per_round": STEPS, "method": f"numpyro.svi:{guide}", "problem": problem})
    benchmark.pedantic(loop, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    per_step_us = benchmark.stats.stats.median / STEPS * 1e6
    benchmark.extra_info["median_us_per_step"] = per_step_us
    assert per_step_us > 0
