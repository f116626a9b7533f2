"""numpyro.svi: the whole optimisation is one jitted loop, compiled once per cell.

Compilation is ahead of time (`lower().compile()`), so `compile_s` is measured apart, and the
same executable serves every warm repeat: no per-step Python loop and no host sync. The loop
keeps the parameters at the checkpoint schedule's steps (bench.spec.checkpoints) for time to accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.handlers import seed
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.util import log_density

from backends.numpyro import FLOW_GUIDES, SVISettings, flow_unsupported
from backends.jax_common.tuning import adam_with_schedule, batched_search
from backends.jax_common.compile import compile_and_time, harness_jit, require_jax_device
from backends.jax_common.segments import checkpoint_steps, run_in_segments, scan_with_snapshots, snapshot_at
from backends.numpyro.guides import make_guide
from backends.jax_common.model import data_device, make_model, model_data
from bench.spec.checkpoints import schedule, vi_checkpoints
from bench.spec.errors import Unsupported
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem
from bench.spec.protocols import SELECTION_DRAWS


def make_optimizer(settings: SVISettings, learning_rate=None) -> optax.GradientTransformation:
    """Adam, at a constant rate or with the tuned protocol's step decay; or the seed's recipe: OneCycle
    (peak = learning_rate) chained with reduce-on-plateau. learning_rate: a (traced) candidate's."""
    if settings.schedule in ("constant", "step_decay"):
        rate = settings.learning_rate if learning_rate is None else learning_rate
        return adam_with_schedule(rate, settings.schedule, settings.steps)
    onecycle = optax.linear_onecycle_schedule(
        transition_steps=settings.steps,
        peak_value=settings.learning_rate,
        pct_start=0.2,
        pct_final=0.8,
        div_factor=3,
        final_div_factor=4,
    )
    plateau = optax.contrib.reduce_on_plateau(factor=0.1, patience=10, accumulation_size=100)
    return optax.chain(optax.adam(onecycle), plateau)


def build_svi(problem: Problem, settings: SVISettings, learning_rate=None):
    if settings.guide in FLOW_GUIDES and flow_unsupported(problem):
        raise Unsupported(flow_unsupported(problem))
    model = make_model(problem, settings.batch_size)
    guide = make_guide(settings.guide, model, settings)
    svi = SVI(model, guide, make_optimizer(settings, learning_rate), Trace_ELBO(num_particles=settings.particles))
    return svi, guide


def _minibatch_step(svi: SVI, n_train: int, batch_size: int):
    """One SVI update; with minibatches, the rows are drawn i.i.d. from a key of their own."""
    subsample = 0 < batch_size < n_train

    def update(state, key, train):
        if not subsample:
            return svi.update(state, **train), key
        key, draw = jax.random.split(key)
        rows = jax.random.randint(draw, (batch_size,), 0, n_train)
        return svi.update(state, **train, rows=rows), key

    return update


def _loss_buffer(update, state, key, train, steps: int) -> jax.Array:
    """NaN-filled per-step losses in the loss's own dtype (steps not taken stay NaN)."""
    loss = jax.eval_shape(update, state, key, train)[0][1]
    return jnp.full((steps,), jnp.nan, dtype=loss.dtype)


def raw_params(svi: SVI, state):
    """The optimiser's (unconstrained) parameters: what a checkpoint copies; `svi.constrain_fn` maps them."""
    return svi.optim.get_params(state.optim_state)


def make_run_loop(svi: SVI, steps: int, n_train: int = 0, batch_size: int = 0):
    """run(state, key, train, val) -> (final state, per-step losses, steps taken, (snapshots, their
    steps)) as one compiled loop; the parameters are kept at checkpoint_steps(steps)."""
    update = _minibatch_step(svi, n_train, batch_size)
    keep = checkpoint_steps(steps)

    def run(state, key, train, val):
        def step(carry, _):
            state, key = carry
            (state, loss), key = update(state, key, train)
            return (state, key), loss

        (state, _), losses, snapshots = scan_with_snapshots(
            step, (state, key), steps, keep, lambda c: raw_params(svi, c[0])
        )
        return state, losses, jnp.asarray(steps), (snapshots, jnp.asarray(keep))

    return run


def make_early_stopping_loop(svi: SVI, steps: int, patience: int, n_train: int, n_val: int, batch_size: int = 0):
    """The seed's rule in one compiled loop: after each step, the validation loss per point is
    compared with the training loss per point; `patience` consecutive worse steps stop the fit."""
    update = _minibatch_step(svi, n_train, batch_size)

    def run(state, key, train, val):
        def advance(carry, i):
            state, key, worse_for, losses = carry
            (state, loss), key = update(state, key, train)
            _, key = jax.random.split(state.rng_key)
            val_loss = svi.loss.loss(key, svi.get_params(state), svi.model, svi.guide, **val)
            worse_for = jnp.where(val_loss / n_val > loss / n_train, worse_for + 1, 0)
            return state, key, worse_for, losses.at[i].set(loss)

        losses = _loss_buffer(update, state, key, train, steps)
        (state, _, _, losses), taken, *kept = run_in_segments(
            advance,
            (state, key, jnp.asarray(0), losses),
            schedule(steps),
            lambda c: raw_params(svi, c[0]),
            keep_going=lambda c: c[2] < patience,
        )
        return state, losses, taken, tuple(kept)

    return run


def cell_keys(seed):
    """The cell's keys (initialisation, minibatches, draws), derived inside compiled code: eager
    key arithmetic would compile a few tiny programs of its own in every cell."""
    return jax.random.split(jax.random.PRNGKey(seed), 3)


def from_seed(svi: SVI, run):
    """The loop with its keys and `svi.init` inside it, one compiled function: the model is traced
    and compiled once, and that cost (which a user's first call pays) is in compile_s, not in
    harness setup. Each timed repeat then includes the initialisation, one pass of model and guide."""

    def run_from_seed(seed, train, val):
        init_key, batch_key, _ = cell_keys(seed)
        return run(svi.init(init_key, **train), batch_key, train, val)

    return run_from_seed


def guide_sampler(guide, data: Mapping[str, Any], names: list[str], constrain=None):
    """sample(params, seed, num) -> (constrained draws of the latents from q, log q of each draw),
    compiled once per draw count, so every checkpoint's parameters reuse the executable.
    constrain: where given, params are the optimiser's raw ones, mapped inside the compiled call."""

    def one(params, k):
        log_q, trace = log_density(seed(guide, k), (), dict(data), params)
        return {name: trace[name]["value"] for name in names}, log_q

    @partial(harness_jit, static_argnums=2)
    def draw(params, seed, num):
        params = params if constrain is None else constrain(params)
        return jax.vmap(lambda k: one(params, k))(jax.random.split(cell_keys(seed)[2], num))

    def sample(params, seed, num: int):
        draws, log_q = draw(params, np.int32(seed), num)
        return {k: np.asarray(v) for k, v in draws.items()}, np.asarray(log_q)

    return sample


def fit(problem: Problem, data: Dataset, settings: SVISettings, context: FitContext) -> FitResult:
    require_jax_device(context.device)
    dtype = jnp.float64 if context.dtype == "float64" else jnp.float32
    train = model_data(problem, data.train, dtype)

    n_train = len(data.train) if data.train is not None else 0
    common = {"n_train": n_train, "batch_size": settings.batch_size}
    if settings.early_stopping and data.val is None:
        raise Unsupported(f"early stopping needs a validation split, and {problem.name} has none")
    val = model_data(problem, data.val, dtype) if settings.early_stopping else {}

    def loop(svi: SVI):
        if settings.early_stopping:
            return make_early_stopping_loop(svi, settings.steps, settings.patience, n_val=len(data.val), **common)
        return make_run_loop(svi, settings.steps, **common)

    tuning = None
    args = (np.int32(context.seed), train, val)
    if settings.protocol == "tuned":

        def candidate(learning_rate, seed, train, val):
            """One learning rate's whole fit, then its ELBO from Trace_ELBO on SELECTION_DRAWS fresh draws."""
            svi, _ = build_svi(problem, settings, learning_rate)
            out = from_seed(svi, loop(svi))(seed, train, val)
            elbo = -Trace_ELBO(num_particles=SELECTION_DRAWS).loss(
                jax.random.fold_in(cell_keys(seed)[2], 1), svi.get_params(out[0]), svi.model, svi.guide, **train
            )
            return elbo, out

        (state, losses, taken, (snapshots, taken_at)), (compile_s, run_s, repeats_end), tuning = batched_search(
            candidate, args, settings.steps, settings.particles, context.repeats, dtype
        )
        settings = replace(settings, learning_rate=tuning.chosen)
        # the family and its sampler (the rate plays no part there): svi.init, traced only, sets up the
        # guide's prototype and svi.constrain_fn as the compiled loop does for the recipe's fit
        svi, guide = build_svi(problem, settings)
        jax.eval_shape(lambda seed: svi.init(cell_keys(seed)[0], **train), args[0])
    else:
        svi, guide = build_svi(problem, settings)
        (state, losses, taken, (snapshots, taken_at)), compile_s, run_s, repeats_end = compile_and_time(
            from_seed(svi, loop(svi)), args, context.repeats
        )
    taken = int(taken)  # read back after the clock has stopped
    names = [lat.name for lat in problem.latents]
    # One compiled sampler for the cell: the final draws and every checkpoint's (the first `num`
    # of a full-size batch), with the raw parameters as its argument.
    sample = guide_sampler(guide, train, names, svi.constrain_fn)
    draws, log_q = sample(raw_params(svi, state), context.seed, context.draws)

    def sampler_at(index: int):
        snapshot = snapshot_at(snapshots, index)

        def at(num: int):
            drawn = sample(snapshot, context.seed, max(num, context.draws))[0]
            return {k: v[:num] for k, v in drawn.items()}

        return at

    return FitResult(
        draws=draws,
        log_q=log_q,
        losses=np.asarray(losses)[:taken],
        compile_s=compile_s,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=taken,
        grad_evals=taken * settings.particles * (len(tuning.learning_rates) if tuning else 1),
        checkpoints=vi_checkpoints(np.asarray(taken_at), taken, sampler_at),
        info={
            "jax_backend": jax.default_backend(),
            "device_kind": jax.devices()[0].device_kind,
            "data_device": data_device(train),
            "computed_dtype": str(losses.dtype),
            **({"tuning": tuning.to_info()} if tuning is not None else {}),
        },
        iterative=True,
    )
