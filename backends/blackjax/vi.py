"""blackjax.meanfield_vi, blackjax.fullrank_vi (Adam, one compiled loop) and blackjax.pathfinder.

Draws come back in constrained space with log q corrected by the transforms' log-Jacobians, so
the harness's common ELBO and PSIS k-hat apply. BlackJAX's per-step `elbo` field is the value
of the objective it minimises (the negative ELBO): it is the loss trace as it stands.
"""

from __future__ import annotations


import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from blackjax.vi.fullrank_vi import generate_fullrank_logdensity
from blackjax.vi.meanfield_vi import generate_meanfield_logdensity

from backends.blackjax import GaussianVISettings, PathfinderSettings
from backends.blackjax.mcmc import _setup
from backends.jax_common.compile import compile_and_time
from backends.jax_common.segments import checkpoint_steps, scan_with_snapshots, snapshot_at
from backends.jax_common.target import JaxTarget
from bench.spec.checkpoints import vi_checkpoints
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem
from backends.jax_common.model import data_device


def _result(target: JaxTarget, z, log_q_z, losses, compile_s, run_s, steps: int, grad_evals: int,
            checkpoints=()) -> FitResult:  # fmt: skip
    return FitResult(
        draws=target.draws_to_numpy(z),
        log_q=target.log_q_constrained(z, log_q_z),
        losses=np.asarray(losses, dtype=np.float64),
        compile_s=compile_s,
        run_s=run_s,
        steps=steps,
        grad_evals=grad_evals,
        info={"jax_backend": jax.default_backend(), "computed_dtype": str(z.dtype),
              "data_device": data_device(target.kwargs)},  # fmt: skip
        checkpoints=list(checkpoints),
    )


def _fit_gaussian(problem, data, settings, context, algorithm, log_q_of, family: tuple[str, str]) -> FitResult:
    """family: the state's two parameter fields (mean and scale), the part a checkpoint keeps."""
    target, run_key, _ = _setup(problem, data, context)
    steps, particles = settings.steps, settings.particles
    vi = algorithm(target.logdensity, optax.adam(settings.learning_rate), num_samples=particles)
    state0 = vi.init(jnp.zeros(target.dim, dtype=target.dtype))
    fit_key, draw_key = jax.random.split(run_key)

    keep = checkpoint_steps(steps)

    def run(state, key):
        def step(state, k):
            state, info = vi.step(k, state)
            return state, info.elbo

        return scan_with_snapshots(step, state, steps, keep, lambda s: tuple(getattr(s, f) for f in family),
                                   xs=jax.random.split(key, steps))  # fmt: skip

    (state, losses, snapshots), compile_s, run_s = compile_and_time(run, (state0, fit_key), context.repeats)
    # one compiled sampler for the final draws and every checkpoint (the first `num` of a full batch)
    sample = jax.jit(lambda s: vi.sample(draw_key, s, context.draws))
    z = sample(state)
    log_q = jax.vmap(log_q_of(state))(z)

    def sampler_at(index: int):
        then = state._replace(**dict(zip(family, snapshot_at(snapshots, index))))

        def at(num: int):
            drawn = sample(then) if num <= context.draws else vi.sample(draw_key, then, num)
            return target.draws_to_numpy(drawn[:num])

        return at

    checkpoints = vi_checkpoints(keep, steps, sampler_at)
    return _result(target, z, log_q, losses, compile_s, run_s, steps, steps * particles, checkpoints)


def fit_meanfield(problem: Problem, data: Dataset, settings: GaussianVISettings, context: FitContext) -> FitResult:
    return _fit_gaussian(problem, data, settings, context, blackjax.meanfield_vi,
                         lambda s: generate_meanfield_logdensity(s.mu, s.rho), ("mu", "rho"))  # fmt: skip


def fit_fullrank(problem: Problem, data: Dataset, settings: GaussianVISettings, context: FitContext) -> FitResult:
    return _fit_gaussian(problem, data, settings, context, blackjax.fullrank_vi,
                         lambda s: generate_fullrank_logdensity(s.mu, s.chol_params), ("mu", "chol_params"))  # fmt: skip


def fit_pathfinder(problem: Problem, data: Dataset, settings: PathfinderSettings, context: FitContext) -> FitResult:
    """Single-path Pathfinder from the init_to_median point; the loss trace is the negative ELBO
    estimate at each L-BFGS iterate (BlackJAX keeps the best one)."""
    target, run_key, _ = _setup(problem, data, context)
    fit_key, draw_key = jax.random.split(run_key)
    start = target.median_point

    def run(key, start):
        state, info = blackjax.pathfinder.approximate(
            key, target.logdensity, start, num_samples=settings.elbo_draws, maxiter=settings.maxiter,
            maxcor=settings.maxcor,
        )  # fmt: skip
        return state, -info.path.elbo

    (state, losses), compile_s, run_s = compile_and_time(run, (fit_key, start), context.repeats)
    z, log_q = blackjax.pathfinder.sample(draw_key, state, context.draws)
    losses = np.asarray(losses)
    # -inf ELBOs mark iterates without an estimate: the start (no curvature yet) and the padding
    # after L-BFGS stops; the trace keeps the estimates that exist
    finite = np.flatnonzero(np.isfinite(losses))
    iterations = int(finite[-1]) if len(finite) else 0
    taken = len(finite)
    return _result(target, z, log_q, losses[finite], compile_s, run_s, iterations,
                   iterations + taken * settings.elbo_draws)  # fmt: skip
