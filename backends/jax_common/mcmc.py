"""One FitResult for every JAX sampler (numpyro.nuts, blackjax.nuts, blackjax.rmh)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from backends.jax_common.model import data_device
from backends.jax_common.target import JaxTarget
from bench.spec.checkpoints import mcmc_prefixes
from bench.spec.fitting import FitResult


def chain_major(samples: jax.Array) -> jax.Array:
    """(draws, chains, D) -> (chains * draws, D), the layout scoring expects."""
    return jnp.swapaxes(samples, 0, 1).reshape(-1, samples.shape[-1])


def mcmc_result(
    target: JaxTarget, samples, warm, stats, timing: tuple[float, list[float], float], settings
) -> FitResult:
    """One FitResult for every JAX sampler. warm = (potential energy, leapfrog steps) per warmup
    iteration and chain; stats = (potential energy, diverging, accept prob, leapfrog steps) per kept
    iteration and chain; timing = (compile_s, run_s, repeats_end) from compile_and_time. A random walk
    passes None for divergences and leapfrog steps: it has neither."""
    compile_s, run_s, repeats_end = timing
    chains = settings.chains
    energy_warm, steps_warm = warm
    energy, diverging, accept, steps = (None if a is None else np.asarray(a).reshape(-1, chains) for a in stats)
    info = {
        "acceptance_rate": float(accept.mean()),
        "jax_backend": jax.default_backend(),
        "computed_dtype": str(samples.dtype),
        "data_device": data_device(target.kwargs),
    }
    if diverging is not None:
        info["divergences"] = float(diverging.sum())
    if steps is not None:
        info["mean_tree_steps"] = float(steps.mean())
    draws = target.draws_to_numpy(chain_major(samples))
    per_draw = {
        "lp": None if energy is None else -energy,
        "diverging": diverging,
        "acceptance_rate": accept,
        "n_steps": steps,
    }  # (kept iterations, chains) each
    sample_stats = {name: np.asarray(v).T.reshape(-1) for name, v in per_draw.items() if v is not None}
    work = None  # gradient evaluations per chain and iteration, warm-up included, where counted
    if steps is not None and steps_warm is not None:
        work = np.concatenate([np.asarray(steps_warm).reshape(-1, chains), steps]).T
    return FitResult(
        draws=draws,
        log_q=None,
        losses=np.concatenate([np.asarray(energy_warm).mean(axis=1), energy.mean(axis=1)]).astype(np.float64),
        compile_s=compile_s,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=settings.warmup + settings.draws * settings.thin,
        grad_evals=None if steps is None else int(np.asarray(steps_warm).sum() + steps.sum()),
        info=info,
        chains=chains,
        checkpoints=mcmc_prefixes(draws, chains, settings.warmup, settings.thin, work),
        sample_stats=sample_stats,
    )
