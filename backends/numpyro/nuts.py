"""numpyro.nuts: NumPyro's NUTS kernel, warmup and sampling in one compiled loop, chains vectorised.

`MCMC.run` re-traces and re-compiles on every call; here the kernel's own `sample` is scanned
inside one jitted function compiled ahead of time, so `compile_s` is apart and warm repeats
reuse the executable. Chains start from Stan's dispersed uniform(-2, 2) unconstrained points
and advance together under `vmap` (NumPyro's "vectorized" chain method).
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import NUTS

from backends.numpyro.model import data_device
from backends.numpyro.svi import check_device
from backends.numpyro.target import JaxTarget
from bench.checkpoints import mcmc_prefixes
from bench.fitting import FitContext, FitResult, time_repeats
from bench.problem import Dataset, Problem


def chain_major(samples: jax.Array) -> jax.Array:
    """(draws, chains, D) -> (chains * draws, D), the layout scoring expects."""
    return jnp.swapaxes(samples, 0, 1).reshape(-1, samples.shape[-1])


def fit(problem: Problem, data: Dataset, settings: Mapping[str, Any], context: FitContext) -> FitResult:
    check_device(context.device)
    dtype = jnp.float64 if context.dtype == "float64" else jnp.float32
    target = JaxTarget(problem, data.train, dtype)
    chains, warmup, kept, thin = settings["chains"], settings["warmup"], settings["draws"], settings["thin"]
    kernel = NUTS(target.model, target_accept_prob=settings["target_accept"], max_tree_depth=settings["max_tree_depth"])
    init_key, start_key = jax.random.split(jax.random.PRNGKey(context.seed))
    starts = target.uniform_points(start_key, chains)
    init_params = jax.vmap(target.unflatten)(starts)
    state0 = kernel.init(jax.random.split(init_key, chains), warmup, init_params, (), target.kwargs)

    def step(state, _):
        state = kernel.sample(state, (), target.kwargs)
        return state, (state.potential_energy, state.diverging, state.accept_prob, state.num_steps)

    def run(state):
        state, (warm_energy, _, _, warm_steps) = jax.lax.scan(step, state, None, length=warmup)

        def keep(state, _):
            state, stats = jax.lax.scan(step, state, None, length=thin)
            return state, (target.flatten_batch(state.z), stats)

        state, (samples, stats) = jax.lax.scan(keep, state, None, length=kept)
        return samples, (warm_energy, warm_steps), stats

    start = perf_counter()
    compiled = jax.jit(run).lower(state0).compile()
    compile_s = perf_counter() - start
    (samples, warm, stats), run_s = time_repeats(lambda: compiled(state0), jax.block_until_ready, context.repeats)
    return mcmc_result(target, samples, warm, stats, compile_s, run_s, settings)


def mcmc_result(target: JaxTarget, samples, warm, stats, compile_s: float, run_s: list[float], settings) -> FitResult:
    """One FitResult for every JAX sampler. warm = (potential energy, leapfrog steps) per warmup
    iteration and chain; stats = (potential energy, diverging, accept prob, leapfrog steps) per kept
    iteration and chain. A random walk passes None for divergences and leapfrog steps: it has neither."""
    chains = settings["chains"]
    energy_warm, steps_warm = warm
    energy, diverging, accept, steps = (None if a is None else np.asarray(a).reshape(-1, chains) for a in stats)
    info = {"acceptance_rate": float(accept.mean()), "jax_backend": jax.default_backend(),
            "computed_dtype": str(samples.dtype), "data_device": data_device(target.kwargs)}  # fmt: skip
    if diverging is not None:
        info["divergences"] = float(diverging.sum())
    if steps is not None:
        info["mean_tree_steps"] = float(steps.mean())
    draws = target.draws_to_numpy(chain_major(samples))
    work = None  # gradient evaluations per chain and iteration, warm-up included, where counted
    if steps is not None and steps_warm is not None:
        work = np.concatenate([np.asarray(steps_warm).reshape(-1, chains), steps]).T
    return FitResult(
        draws=draws,
        log_q=None,
        losses=np.concatenate([np.asarray(energy_warm).mean(axis=1), energy.mean(axis=1)]).astype(np.float64),
        compile_s=compile_s,
        run_s=run_s,
        steps=settings["warmup"] + settings["draws"] * settings["thin"],
        grad_evals=None if steps is None else int(np.asarray(steps_warm).sum() + steps.sum()),
        info=info,
        chains=chains,
        checkpoints=mcmc_prefixes(draws, chains, settings["warmup"], settings["thin"], work),
    )
