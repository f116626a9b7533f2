"""blackjax.nuts (Stan's window adaptation) and blackjax.rmh (random walk with adapted scales).

Each fit is one jitted function compiled ahead of time: adaptation, sampling and thinning are
`lax.scan`s, chains advance together under `vmap`, and nothing returns to the host per step.
Chains start from the same dispersed uniform(-2, 2) points as numpyro.nuts.
"""

from __future__ import annotations

from dataclasses import replace

import blackjax
import jax
import jax.numpy as jnp

from backends.blackjax import NUTSSettings, RMHSettings
from backends.jax_common.compile import compile_and_time
from backends.jax_common.mcmc import mcmc_result
from backends.jax_common.target import setup_fit
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem

RMH_ROUND = 100  # burn-in iterations between two adaptations of the random-walk scale


def fit_nuts(problem: Problem, data: Dataset, settings: NUTSSettings, context: FitContext) -> FitResult:
    target, run_key, start_key = setup_fit(problem, data, context)
    chains, warmup, kept, thin = settings.chains, settings.warmup, settings.draws, settings.thin
    starts = target.uniform_points(start_key, chains)
    depth = settings.max_tree_depth
    adaptation = blackjax.window_adaptation(
        blackjax.nuts, target.logdensity, target_acceptance_rate=settings.target_accept, max_num_doublings=depth
    )

    def run(key, starts):
        warm_key, sample_key = jax.random.split(key)
        warm_keys = jax.random.split(warm_key, chains)
        (states, params), warm_info = jax.vmap(lambda k, x: adaptation.run(k, x, num_steps=warmup))(warm_keys, starts)

        tuned = {"step_size": params["step_size"], "inverse_mass_matrix": params["inverse_mass_matrix"]}

        def chain_step(k, state, tuned):
            return blackjax.nuts(target.logdensity, max_num_doublings=depth, **tuned).step(k, state)

        def step(states, k):
            states, info = jax.vmap(chain_step)(jax.random.split(k, chains), states, tuned)
            stats = (-states.logdensity, info.is_divergent, info.acceptance_rate, info.num_integration_steps)
            return states, stats

        def keep(states, k):
            states, stats = jax.lax.scan(step, states, jax.random.split(k, thin))
            return states, (states.position, stats)

        _, (samples, stats) = jax.lax.scan(keep, states, jax.random.split(sample_key, kept))
        return samples, (-warm_info.state.logdensity.T, warm_info.info.num_integration_steps.T), stats

    (samples, warm, stats), *timing = compile_and_time(run, (run_key, starts), context.repeats)
    return mcmc_result(target, samples, warm, stats, timing, settings)


def fit_rmh(problem: Problem, data: Dataset, settings: RMHSettings, context: FitContext) -> FitResult:
    """Random-walk Metropolis with a diagonal Gaussian proposal. BlackJAX has no adaptation for it,
    so burn-in runs in rounds: per-coordinate sds from the last round's draws, and a global scale
    tuned towards `target_accept` by Robbins-Monro on its logarithm (the torch.mh recipe)."""
    target, run_key, start_key = setup_fit(problem, data, context)
    chains, kept, thin = settings.chains, settings.draws, settings.thin
    rounds = max(1, settings.warmup // RMH_ROUND)
    starts = target.uniform_points(start_key, chains)
    dim = target.dim

    def run(key, starts):
        states = jax.vmap(lambda x: blackjax.additive_step_random_walk.init(x, target.logdensity))(starts)

        def iterate(states, keys, sigma):
            kernel = blackjax.additive_step_random_walk(target.logdensity, blackjax.mcmc.random_walk.normal(sigma))

            def step(states, k):
                states, info = jax.vmap(kernel.step)(jax.random.split(k, chains), states)
                return states, (states.position, -states.logdensity, info.acceptance_rate)

            return jax.lax.scan(step, states, keys)

        def adapt(carry, inputs):
            states, log_scale, sds, moments = carry
            k, r = inputs
            states, (positions, energy, accept) = iterate(
                states, jax.random.split(k, RMH_ROUND), jnp.exp(log_scale) * sds
            )
            log_scale = log_scale + (jnp.mean(accept) - settings.target_accept) * 3.0 / jnp.sqrt(r + 1.0)
            # per-coordinate sds accumulate over every round after the first quarter (the dispersed
            # starts' transient); one round alone is too short and shrinks the proposal
            flat = positions.reshape(-1, dim)
            use = (r >= rounds // 4).astype(flat.dtype)
            moments = (
                moments[0] + use * flat.shape[0],
                moments[1] + use * flat.sum(0),
                moments[2] + use * (flat**2).sum(0),
            )
            count = jnp.maximum(moments[0], 1.0)
            variance = moments[2] / count - (moments[1] / count) ** 2
            sds = jnp.where(moments[0] > 0, jnp.sqrt(jnp.maximum(variance, 0.0)) + 1e-6, sds)
            log_scale = jnp.where(r == rounds // 4, jnp.log(2.38 / jnp.sqrt(dim)), log_scale)  # restart on new sds
            return (states, log_scale, sds, moments), (energy.mean(axis=1), accept.mean())

        warm_key, sample_key = jax.random.split(key)
        scale0 = jnp.full((dim,), settings.proposal_scale, dtype=starts.dtype)
        zeros = jnp.zeros((dim,), starts.dtype)
        carry = (states, jnp.zeros((), starts.dtype), scale0, (jnp.zeros((), starts.dtype), zeros, zeros))
        inputs = (jax.random.split(warm_key, rounds), jnp.arange(rounds, dtype=starts.dtype))
        (states, log_scale, sds, _), (warm_energy, _) = jax.lax.scan(adapt, carry, inputs)
        sigma = jnp.exp(log_scale) * sds

        def keep(states, k):
            states, (_, energy, accept) = iterate(states, jax.random.split(k, thin), sigma)
            return states, (states.position, (energy, None, accept, None))

        _, (samples, stats) = jax.lax.scan(keep, states, jax.random.split(sample_key, kept))
        return samples, (warm_energy.reshape(-1, 1), None), stats

    (samples, warm, stats), *timing = compile_and_time(run, (run_key, starts), context.repeats)
    return mcmc_result(target, samples, warm, stats, timing, replace(settings, warmup=rounds * RMH_ROUND))
