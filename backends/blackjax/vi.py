"""blackjax.meanfield_vi, blackjax.fullrank_vi (Adam, one compiled loop) and blackjax.pathfinder.

Draws come back in constrained space with log q corrected by the transforms' log-Jacobians, so
the harness's common ELBO and PSIS k-hat apply. BlackJAX's per-step `elbo` field is the value
of the objective it minimises (the negative ELBO): it is the loss trace as it stands.

Full-rank log q is taken from the standard normal draws behind z = mu + L eps, not re-derived by
BlackJAX's triangular solve against L: once L is ill-conditioned (diamonds in float32 reached a
condition number of 1e9) the solve keeps no correct digit, the objective the optimiser followed
was not the ELBO, and the fit is `diverged` (FloatingPointError) rather than scored.
"""

from __future__ import annotations


import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from blackjax.vi.fullrank_vi import _unflatten_cholesky, generate_fullrank_logdensity
from blackjax.vi.meanfield_vi import generate_meanfield_logdensity

from backends.blackjax import GaussianVISettings, PathfinderSettings
from dataclasses import replace

from backends.jax_common.tuning import adam_with_schedule, batched_search
from backends.jax_common.compile import compile_and_time, harness_jit
from backends.jax_common.segments import checkpoint_steps, scan_with_snapshots, snapshot_at
from backends.jax_common.target import JaxTarget, setup_fit
from bench.spec.checkpoints import vi_checkpoints
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem
from bench.spec.protocols import SELECTION_DRAWS, decay_boundaries
from backends.jax_common.model import data_device


def _result(target: JaxTarget, z, log_q_z, losses, timing, steps: int, grad_evals: int, checkpoints=()) -> FitResult:
    compile_s, run_s, repeats_end = timing
    return FitResult(
        draws=target.draws_to_numpy(z),
        log_q=target.log_q_constrained(z, log_q_z),
        losses=np.asarray(losses, dtype=np.float64),
        compile_s=compile_s,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=steps,
        grad_evals=grad_evals,
        info={
            "jax_backend": jax.default_backend(),
            "computed_dtype": str(z.dtype),
            "data_device": data_device(target.kwargs),
        },
        checkpoints=list(checkpoints),
    )


LOG_Q_GAP_MAX = 1.0  # nats: the median disagreement of BlackJAX's log q with the exact one beyond which
# its objective is numerical noise (a sound float32 fit disagrees by about 1e-4)


def _meanfield_draws(vi, state, key, num: int):
    """(z, log q): BlackJAX's draws and density (elementwise, no solve: precise in float32), one compile."""

    def draw(s):
        z = vi.sample(key, s, num)
        return z, jax.vmap(generate_meanfield_logdensity(s.mu, s.rho))(z)

    return harness_jit(draw)(state)


def fullrank_draws(vi, state, key, num: int):
    """(z, log q) with z = mu + L eps, BlackJAX's draws (same key, same layout), and log q exact from
    eps; FloatingPointError when the library's log q, the one its objective used, disagrees. Eager, as
    BlackJAX's own `sample` is: a compiled product rounds differently in the last bit."""
    dim = state.mu.shape[0]
    chol = _unflatten_cholesky(state.chol_params, dim)
    eps = jax.random.normal(key, (num, dim), dtype=state.mu.dtype)
    z = state.mu + eps @ chol.T
    log_q = jnp.sum(jax.scipy.stats.norm.logpdf(eps), axis=1) - jnp.sum(jnp.log(jnp.diag(chol)))
    fullrank_precision(state, z, log_q)
    return z, log_q


def fullrank_precision(state, z, log_q) -> None:
    """Raise FloatingPointError when BlackJAX's log q (the objective's) has lost precision at the draws."""
    library = jax.vmap(generate_fullrank_logdensity(state.mu, state.chol_params))(z)
    gap = np.abs(np.asarray(library, dtype=np.float64) - np.asarray(log_q, dtype=np.float64))
    if not np.median(gap) <= LOG_Q_GAP_MAX:
        chol = np.asarray(_unflatten_cholesky(state.chol_params, state.mu.shape[0]), dtype=np.float64)
        raise FloatingPointError(
            f"full-rank q lost precision in {state.mu.dtype}: BlackJAX's log q is off by {np.median(gap):.3g} nats "
            f"(median; max {np.max(gap):.3g}) at a scale factor of condition number {np.linalg.cond(chol):.3g}, "
            "so the ELBO it optimised was not finite-precision sound"
        )


def _optimizer(settings: GaussianVISettings, learning_rate=None):
    rate = settings.learning_rate if learning_rate is None else learning_rate
    if settings.optimizer == "sgd":
        schedule = optax.piecewise_constant_schedule(rate, decay_boundaries(settings.steps))
        return optax.sgd(schedule if settings.schedule == "step_decay" else rate)
    return adam_with_schedule(rate, settings.schedule, settings.steps)


def _initial_state(vi, target: JaxTarget, settings: GaussianVISettings, scale_field: str):
    """BlackJAX's start (zero mean), with the starting sd set to init_scale where one is given
    (mean-field sd = exp(rho); full-rank: the Cholesky diagonal is exp of the first `dim` entries)."""
    state = vi.init(jnp.zeros(target.dim, dtype=target.dtype))
    if settings.init_scale > 0:
        params = getattr(state, scale_field)
        log_scale = jnp.log(jnp.asarray(settings.init_scale, dtype=target.dtype))
        # the optimiser's state holds zero moments whatever the parameters' values: it stays as built
        state = state._replace(**{scale_field: params.at[: target.dim].set(log_scale)})
    return state


def _exact_draws(state, scale_field: str, key, num: int):
    """(z, log q(z)) from num standard normal draws eps: z = mu + sigma eps (mean-field, sigma = exp(rho))
    or mu + L eps (full-rank), log q = log N(eps; 0, I) - sum log diag(scale), traceable."""
    dim = state.mu.shape[0]
    eps = jax.random.normal(key, (num, dim), dtype=state.mu.dtype)
    if scale_field == "rho":
        z = state.mu + eps * jnp.exp(state.rho)
        log_det = jnp.sum(state.rho)
    else:
        chol = _unflatten_cholesky(state.chol_params, dim)
        z = state.mu + eps @ chol.T
        log_det = jnp.sum(jnp.log(jnp.diag(chol)))
    return z, jnp.sum(jax.scipy.stats.norm.logpdf(eps), axis=1) - log_det


def _fit_gaussian(problem, data, settings, context, algorithm, draw, family: tuple[str, str]) -> FitResult:
    """draw(vi, state, key, n): n draws of q and their log q; family: the state's two parameter fields
    (mean and scale), the part a checkpoint keeps. Under the tuned protocol every learning rate runs
    in one vmapped program and the best candidate (by its ELBO on fresh draws) is the fit."""
    target, run_key, _ = setup_fit(problem, data, context)
    fit_key, draw_key = jax.random.split(run_key)
    steps, particles = settings.steps, settings.particles
    keep = checkpoint_steps(steps)

    def run_at(learning_rate, fit_key):
        vi = algorithm(target.logdensity, _optimizer(settings, learning_rate), num_samples=particles)

        def step(state, k):
            state, info = vi.step(k, state)
            return state, info.elbo

        return scan_with_snapshots(
            step,
            _initial_state(vi, target, settings, family[1]),
            steps,
            keep,
            lambda s: tuple(getattr(s, f) for f in family),
            xs=jax.random.split(fit_key, steps),
        )

    tuning = None
    if settings.protocol == "tuned":

        def candidate(learning_rate, fit_key, draw_key):
            """One rate's whole fit; its ELBO: log p - log q over fresh draws, log q exact from the standard
            normal draws behind z (full-rank: BlackJAX's solve against an ill-conditioned L keeps no digit
            in float32 and would flatter a degenerate q)."""
            state, losses, snapshots = run_at(learning_rate, fit_key)
            z, log_q = _exact_draws(state, family[1], jax.random.fold_in(draw_key, 1), SELECTION_DRAWS)
            elbo = jnp.mean(jax.vmap(target.logdensity)(z) - log_q)
            if family[1] == "chol_params":  # as fullrank_precision: a q whose objective lost precision loses
                library = jax.vmap(generate_fullrank_logdensity(state.mu, state.chol_params))(z)
                elbo = jnp.where(jnp.median(jnp.abs(library - log_q)) <= LOG_Q_GAP_MAX, elbo, jnp.nan)
            return elbo, (state, losses, snapshots)

        (state, losses, snapshots), timing, tuning = batched_search(
            candidate, (fit_key, draw_key), steps, particles, context.repeats, target.dtype
        )
        settings = replace(settings, learning_rate=tuning.chosen)
    else:
        (state, losses, snapshots), *timing = compile_and_time(
            lambda key: run_at(settings.learning_rate, key), (fit_key,), context.repeats
        )
    vi = algorithm(target.logdensity, _optimizer(settings), num_samples=particles)
    z, log_q = draw(vi, state, draw_key, context.draws)
    # one compiled sampler for every checkpoint (the first `num` of a full batch)
    sample = harness_jit(lambda s: vi.sample(draw_key, s, context.draws))

    def sampler_at(index: int):
        then = state._replace(**dict(zip(family, snapshot_at(snapshots, index))))

        def at(num: int):
            drawn = sample(then) if num <= context.draws else vi.sample(draw_key, then, num)
            return target.draws_to_numpy(drawn[:num])

        return at

    checkpoints = vi_checkpoints(keep, steps, sampler_at)
    grad_evals = steps * particles * (len(tuning.learning_rates) if tuning else 1)
    result = _result(target, z, log_q, losses, timing, steps, grad_evals, checkpoints)
    if tuning is not None:
        result.info["tuning"] = tuning.to_info()
    result.iterative = True
    return result


def fit_meanfield(problem: Problem, data: Dataset, settings: GaussianVISettings, context: FitContext) -> FitResult:
    return _fit_gaussian(problem, data, settings, context, blackjax.meanfield_vi, _meanfield_draws, ("mu", "rho"))


def fit_fullrank(problem: Problem, data: Dataset, settings: GaussianVISettings, context: FitContext) -> FitResult:
    return _fit_gaussian(problem, data, settings, context, blackjax.fullrank_vi, fullrank_draws, ("mu", "chol_params"))


def fit_pathfinder(problem: Problem, data: Dataset, settings: PathfinderSettings, context: FitContext) -> FitResult:
    """Single-path Pathfinder from the init_to_median point; the loss trace is the negative ELBO
    estimate at each L-BFGS iterate (BlackJAX keeps the best one)."""
    target, run_key, _ = setup_fit(problem, data, context)
    fit_key, draw_key = jax.random.split(run_key)
    start = target.median_point

    def run(key, start):
        state, info = blackjax.pathfinder.approximate(
            key,
            target.logdensity,
            start,
            num_samples=settings.elbo_draws,
            maxiter=settings.maxiter,
            maxcor=settings.maxcor,
        )
        return state, -info.path.elbo

    (state, losses), *timing = compile_and_time(run, (fit_key, start), context.repeats)
    z, log_q = harness_jit(lambda s: blackjax.pathfinder.sample(draw_key, s, context.draws))(
        state
    )  # one compile, not op by op
    losses = np.asarray(losses)
    # -inf ELBOs mark iterates without an estimate: the start (no curvature yet) and the padding
    # after L-BFGS stops; the trace keeps the estimates that exist
    finite = np.flatnonzero(np.isfinite(losses))
    iterations = int(finite[-1]) if len(finite) else 0
    taken = len(finite)
    return _result(target, z, log_q, losses[finite], timing, iterations, iterations + taken * settings.elbo_draws)
