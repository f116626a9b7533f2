"""numpyro.nuts: NumPyro's NUTS kernel, warmup and sampling in one compiled loop, chains vectorised.

`MCMC.run` re-traces and re-compiles on every call; here the kernel's own `sample` is scanned
inside one jitted function compiled ahead of time, so `compile_s` is apart and warm repeats
reuse the executable. Chains start from Stan's dispersed uniform(-2, 2) unconstrained points
and advance together under `vmap` (NumPyro's "vectorized" chain method).
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
from numpyro.infer import NUTS

from backends.jax_common.settings import NUTSSettings
from backends.jax_common.compile import compile_and_time, harness_jit, require_jax_device
from backends.jax_common.mcmc import mcmc_result
from backends.jax_common.target import JaxTarget
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem


def fit(problem: Problem, data: Dataset, settings: NUTSSettings, context: FitContext) -> FitResult:
    require_jax_device(context.device)
    dtype = jnp.float64 if context.dtype == "float64" else jnp.float32
    target = JaxTarget(problem, data.train, dtype)
    chains, warmup, kept, thin = settings.chains, settings.warmup, settings.draws, settings.thin
    kernel = NUTS(target.model, target_accept_prob=settings.target_accept, max_tree_depth=settings.max_tree_depth)
    init_key, start_key = jax.random.split(jax.random.PRNGKey(context.seed))
    starts = target.uniform_points(start_key, chains)
    init_params = jax.vmap(target.unflatten)(starts)
    # kernel.init traces the model and sets each chain's start up: compiled once (untimed, as before),
    # not dispatched eagerly op by op (17 s on moons); NumPyro documents it safe under vmap, whose
    # tracing this shares, and its python-side state depends on no traced value
    init = harness_jit(lambda keys, params: kernel.init(keys, warmup, params, (), target.kwargs))
    state0 = init(jax.random.split(init_key, chains), init_params)

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

    (samples, warm, stats), *timing = compile_and_time(run, (state0,), context.repeats)
    return mcmc_result(target, samples, warm, stats, timing, settings)
