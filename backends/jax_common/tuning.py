"""The tuned protocol's learning-rate search for the JAX methods: every candidate in one program.

The candidates (bench.spec.protocols.LEARNING_RATES) run as one `vmap` over the learning rate,
compiled once and timed like any fit (`repeats` warm calls): each candidate runs the whole budget
with the step decay and ends with its ELBO on fresh draws from q. The search is the fit: the chosen
candidate's own final state, loss trace and snapshots are kept (re-running the chosen rate alone
would not give the same trajectory: a vmapped program rounds differently, and at a large rate the
path is chaotic), and compile_s, run_s and the gradient count are the whole search's.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from backends.jax_common.compile import compile_and_time
from bench.spec.protocols import LEARNING_RATES, SELECTION_DRAWS, Tuning, choose, decay_boundaries, extension


def adam_with_schedule(learning_rate, schedule: str, steps: int) -> optax.GradientTransformation:
    """optax.adam at a constant rate, or with the protocol's step decay (optax's piecewise-constant
    schedule); `learning_rate` may be traced (a vmapped candidate)."""
    if schedule == "step_decay":
        return optax.adam(optax.piecewise_constant_schedule(learning_rate, decay_boundaries(steps)))
    return optax.adam(learning_rate)


def batched_search(candidate: Callable, args: tuple, steps: int, particles: int, repeats: int, dtype):
    """candidate(learning_rate, *args) -> (ELBO on SELECTION_DRAWS fresh draws, anything else); every
    candidate in one compiled, vmapped program, timed with `repeats` warm calls; where the best is a
    winning edge of the grid, its extension (bench.spec.protocols.extension) as a second such program.
    Returns (the chosen candidate's other outputs, (compile_s, run_s, repeats_end), the search's Tuning record)."""
    vmapped = jax.vmap(candidate, in_axes=(0, *([None] * len(args))))
    rates, elbos, batches = [], [], []
    compile_s, run_s, repeats_end = 0.0, np.zeros(repeats), 0.0
    pending, programs = list(LEARNING_RATES), 0
    while pending:
        programs += 1
        (batch_elbos, outputs), batch_compile, batch_run, repeats_end = compile_and_time(
            vmapped, (jnp.asarray(pending, dtype=dtype), *args), repeats
        )
        compile_s += batch_compile
        run_s = run_s + np.asarray(batch_run)
        batches.extend((outputs, i) for i in range(len(pending)))
        rates.extend(pending)
        elbos.extend(float(e) if np.isfinite(e) else float("nan") for e in np.asarray(batch_elbos, dtype=np.float64))
        pending = list(extension(rates, elbos)) if len(rates) == len(LEARNING_RATES) else []
    chosen = choose(rates, elbos)
    outputs, index = batches[rates.index(chosen)]
    tuning = Tuning(
        learning_rates=rates,
        elbos=elbos,
        chosen=chosen,
        grad_evals=len(rates) * steps * particles,
        seconds=compile_s + float(np.median(run_s)),
        batched=True,
        compile_s=compile_s,
        notes={"selection_draws_per_candidate": SELECTION_DRAWS, "programs": programs},
    )
    return (
        jax.tree_util.tree_map(lambda x: x[index], outputs),
        (compile_s, [float(x) for x in run_s], repeats_end),
        tuning,
    )
