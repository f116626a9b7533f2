"""pymc.advi, pymc.fullrank_advi, pymc.advi_minibatch and pymc.nuts.

ADVI runs as `pm.fit` does (PyMC's compiled step function called in a Python loop: PyMC offers
no compiled loop), but the compile is timed apart and every warm repeat starts from the same
parameters, optimiser state and random streams; the family's parameters are copied at the
checkpoint schedule's steps (time to accuracy). Draws come from the fitted Gaussian in the
unconstrained space; log q subtracts the transforms' log-Jacobians (log p with the Jacobian
minus log p without it), so the harness's common ELBO and k-hat apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import monotonic, perf_counter
from typing import Any

import numpy as np
import pymc as pm
import pytensor
from scipy import stats

from backends.pymc import ADVISettings, MinibatchSettings, PyMCNUTSSettings
from backends.pymc.model import make_model
from bench.spec.checkpoints import mcmc_prefixes, schedule, vi_checkpoints
from bench.spec.errors import Unsupported
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem
from bench.spec.protocols import LEARNING_RATES, SELECTION_DRAWS, Tuning, candidate_rates, choose, decay_boundaries

COMPILE_MODES = {"C": "FAST_RUN", "NUMBA": "NUMBA"}


def _check(context: FitContext) -> None:
    if context.device != "cpu":
        from backends.pymc import GPU_REASON

        raise Unsupported(GPU_REASON)
    expected = "float64" if context.dtype == "float64" else "float32"
    if pytensor.config.floatX != expected:
        pytensor.config.floatX = expected  # the executor sets PYTENSOR_FLAGS; in-process callers land here


def _info(settings: ADVISettings | PyMCNUTSSettings) -> dict[str, Any]:
    return {
        "compile_mode": settings.compile_mode,
        "floatX": pytensor.config.floatX,
        "pytensor_compiledir": str(pytensor.config.compiledir),
        "blas__ldflags": pytensor.config.blas__ldflags,
    }  # empty: no BLAS linked


def _optimizer(settings: ADVISettings, learning_rate):
    """learning_rate: a shared variable, so the step decay and the tuned search's candidates change it
    between calls of the one compiled step."""
    if settings.optimizer == "adam":
        return pm.adam(learning_rate=learning_rate)
    return pm.adagrad_window(learning_rate=learning_rate)


def _set_init_scale(group, method: str, init_scale: float) -> None:
    """q's starting sd in the unconstrained space (0: PyMC's own): mean-field sd = softplus(rho),
    full-rank the diagonal of L."""
    if init_scale <= 0:
        return
    if method == "advi":
        rho = group.params_dict["rho"]
        rho.set_value(np.full_like(rho.get_value(), np.log(np.expm1(init_scale))))
    else:
        tril = group.params_dict["L_tril"]
        rows, cols = np.tril_indices(group.ddim)
        value = tril.get_value()
        value[rows == cols] = init_scale
        tril.set_value(value)


class PostProcess:
    """Flat unconstrained z (in the approximation's ordering) -> constrained values and log|J|."""

    def __init__(self, model: pm.Model, ordering: Mapping[str, Any], mode: str) -> None:
        self.ordering = ordering
        outs = [*model.unobserved_value_vars, model.logp(jacobian=True), model.logp(jacobian=False)]
        self.names = [v.name for v in model.unobserved_value_vars]
        self.fn = model.compile_fn(outs, inputs=model.value_vars, mode=mode, on_unused_input="ignore")

    def point(self, z: np.ndarray) -> dict[str, np.ndarray]:
        return {
            name: z[info[1]].reshape(info[2]).astype(pytensor.config.floatX) for name, info in self.ordering.items()
        }

    def __call__(self, z_draws: np.ndarray, with_log_p: bool = False):
        """(constrained draws, log|J| per draw)[, log p with the Jacobian, in the unconstrained space]."""
        draws: dict[str, list] = {name: [] for name in self.names}
        log_jacobian, log_p = np.empty(len(z_draws)), np.empty(len(z_draws))
        for s, z in enumerate(z_draws):
            *values, with_jac, without_jac = self.fn(self.point(z))
            for name, value in zip(self.names, values):
                draws[name].append(value)
            log_jacobian[s] = float(with_jac) - float(without_jac)
            log_p[s] = float(with_jac)
        out = {k: np.asarray(v, dtype=np.float64) for k, v in draws.items()}, log_jacobian
        return (*out, log_p) if with_log_p else out


def _fit_advi(
    problem: Problem, data: Dataset, settings: ADVISettings, context: FitContext, method: str, batch_size: int = 0
) -> FitResult:
    _check(context)
    mode = COMPILE_MODES[settings.compile_mode]
    model = make_model(problem, data.train, batch_size=batch_size)
    rate = pytensor.shared(np.asarray(settings.learning_rate, dtype=pytensor.config.floatX), "learning_rate")
    with model:
        inference = pm.ADVI(random_seed=context.seed) if method == "advi" else pm.FullRankADVI(random_seed=context.seed)
        start = perf_counter()
        step = inference.objective.step_function(
            obj_optimizer=_optimizer(settings, rate), obj_n_mc=settings.particles, score=True, fn_kwargs={"mode": mode}
        )
        compile_s = perf_counter() - start
    group = inference.approx.groups[0]
    _set_init_scale(group, method, settings.init_scale)
    shared = [v for v in step.get_shared() if v is not rate]
    initial = [v.get_value(borrow=False) for v in shared]
    steps, keep_at = settings.steps, set(schedule(settings.steps))
    decay = decay_boundaries(steps) if settings.schedule == "step_decay" else {}

    def run_once(learning_rate: float) -> tuple[np.ndarray, dict[int, list[np.ndarray]], float]:
        """One fit from the same start (parameters, optimiser state, random streams): (losses, kept, seconds)."""
        for variable, value in zip(shared, initial):
            variable.set_value(value.copy() if hasattr(value, "copy") else value)
        rate.set_value(np.asarray(learning_rate, dtype=pytensor.config.floatX))
        losses, kept = np.empty(steps), {}
        current = learning_rate
        start = perf_counter()
        for i in range(steps):
            if i in decay:  # the step decay: the rate drops at its boundaries (two set_value calls a fit)
                current *= decay[i]
                rate.set_value(np.asarray(current, dtype=pytensor.config.floatX))
            losses[i] = step()
            if i + 1 in keep_at:  # a copy of the family's parameters for time to accuracy
                kept[i + 1] = [p.get_value() for p in group.params]
        return losses, kept, perf_counter() - start

    tuning = None
    if settings.protocol == "tuned":
        full = make_model(problem, data.train) if batch_size else model  # the selection's log p: the full data
        losses, kept, run_s, tuning = _search(run_once, group, method, full, mode, settings, context)
    else:
        run_s = []
        for _ in range(context.repeats):
            losses, kept, seconds = run_once(settings.learning_rate)
            run_s.append(seconds)
    repeats_end = monotonic()  # what follows is reading the family back and drawing from it
    # PyMC divides a minibatch loss by total_size / batch_size (scale_cost_to_minibatch); scaled
    # back, every VI trace reads on the full data set's negative-ELBO scale (1 without minibatches)
    loss_scale = float(pytensor.function([], inference.approx.symbolic_normalizing_constant)())
    losses = losses * loss_scale
    info = _info(settings) | ({"batch_size": batch_size, "loss_scale": loss_scale} if batch_size else {})
    if tuning is not None:
        info["tuning"] = tuning.to_info()
    grad_evals = steps * settings.particles * (len(tuning.learning_rates) if tuning else 1)
    common = {
        "compile_s": compile_s,
        "run_s": run_s,
        "repeats_end": repeats_end,
        "steps": steps,
        "grad_evals": grad_evals,
        "info": info,
        "iterative": True,
    }
    if not np.all(np.isfinite(losses)):  # the harness reports `diverged` at the first non-finite step
        nan = {lat.name: np.full((1, *lat.shape), np.nan) for lat in problem.latents}
        return FitResult(draws=nan, log_q=None, losses=losses, **common)
    # the fitted family's parameters, read in one compiled call: mean and sd, or mean and Cholesky factor
    moments = pytensor.function([], [group.mean, group.std if method == "advi" else group.L])

    def draw(num: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z, mean, scale): num draws from the family as its parameters stand now."""
        mean, scale = (np.asarray(v, dtype=np.float64) for v in moments())
        eps = np.random.default_rng(context.seed + 1).standard_normal((num, len(mean)))
        return (mean + eps * scale if method == "advi" else mean + eps @ scale.T), mean, scale

    z, mean, scale = draw(context.draws)
    if method == "advi":
        log_q_z = stats.norm.logpdf(z, mean, scale).sum(axis=1)
    else:
        log_q_z = stats.multivariate_normal(mean, scale @ scale.T).logpdf(z)
    full = make_model(problem, data.train) if batch_size else model  # log|J| and values on the full model
    post_process = PostProcess(full, group.ordering, mode)
    draws, log_jacobian = post_process(z)

    def sampler_at(index: int):
        values = kept[sorted(kept)[index]]

        def sample(num: int) -> dict[str, np.ndarray]:
            for variable, value in zip(group.params, values):
                variable.set_value(value)
            return post_process(draw(num)[0])[0]

        return sample

    return FitResult(
        draws={lat.name: draws[lat.name] for lat in problem.latents},
        log_q=log_q_z - log_jacobian,
        losses=losses,
        checkpoints=vi_checkpoints(sorted(kept), steps, sampler_at),
        **common,
    )


def _search(run_once, group, method: str, model, mode: str, settings, context):
    """The tuned protocol's candidates one after another in this worker (one compiled step, the rate a
    shared variable): each from the same start, scored by log p - log q over SELECTION_DRAWS fresh draws
    from its q; the best candidate's parameters, losses and snapshots are the fit. run_s: the whole search."""
    moments = pytensor.function([], [group.mean, group.std if method == "advi" else group.L])
    post_process = PostProcess(model, group.ordering, mode)
    results, elbos, seconds, rates = [], [], [], list(LEARNING_RATES)
    start = perf_counter()
    for learning_rate in candidate_rates(rates, elbos):
        try:
            losses, kept, took = run_once(learning_rate)
        except (ArithmeticError, ValueError):  # PyMC's ParameterValueError at a rate too large: this candidate lost
            losses, kept, took = np.full(settings.steps, np.nan), {}, float("nan")
        seconds.append(took)
        final = [p.get_value() for p in group.params]
        results.append((losses, kept, final))
        elbos.append(
            _candidate_elbo(moments, post_process, method, context.seed)
            if np.all(np.isfinite(losses))
            else float("nan")
        )
    chosen = choose(rates, elbos)
    losses, kept, final = results[rates.index(chosen)]
    for variable, value in zip(group.params, final):
        variable.set_value(value)
    tuning = Tuning(
        learning_rates=rates,
        elbos=[float(e) for e in elbos],
        chosen=chosen,
        grad_evals=len(rates) * settings.steps * settings.particles,
        seconds=perf_counter() - start,
        notes={"candidate_seconds": seconds},
    )
    return losses, kept, [float(np.nansum(seconds))], tuning


def _candidate_elbo(moments, post_process: PostProcess, method: str, seed: int) -> float:
    """log p (with the Jacobian) - log q over fresh draws of q in the unconstrained space."""
    mean, scale = (np.asarray(v, dtype=np.float64) for v in moments())
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
        return float("nan")
    eps = np.random.default_rng([seed, 2]).standard_normal((SELECTION_DRAWS, len(mean)))
    if method == "advi":
        z = mean + eps * scale
        log_q = stats.norm.logpdf(z, mean, scale).sum(axis=1)
    else:
        z = mean + eps @ scale.T
        log_q = stats.norm.logpdf(eps).sum(axis=1) - np.sum(np.log(np.abs(np.diag(scale))))
    log_p = post_process(z, with_log_p=True)[2]
    return float(np.mean(log_p - log_q))


def fit_advi(problem: Problem, data: Dataset, settings: ADVISettings, context: FitContext) -> FitResult:
    return _fit_advi(problem, data, settings, context, "advi")


def fit_fullrank_advi(problem: Problem, data: Dataset, settings: ADVISettings, context: FitContext) -> FitResult:
    return _fit_advi(problem, data, settings, context, "fullrank_advi")


def fit_advi_minibatch(problem: Problem, data: Dataset, settings: MinibatchSettings, context: FitContext) -> FitResult:
    if data.train is None or problem.likelihood is None:
        raise Unsupported(f"pymc.advi_minibatch needs observed data; {problem.name} has none")
    return _fit_advi(problem, data, settings, context, "advi", batch_size=settings.batch_size)


def fit_nuts(problem: Problem, data: Dataset, settings: PyMCNUTSSettings, context: FitContext) -> FitResult:
    """pm.sample with chains one after another (cores=1: the timing is of the sampler, not of
    process start-up); compile_s = first call minus the median warm call, per the protocol."""
    _check(context)
    mode = COMPILE_MODES[settings.compile_mode]
    model = make_model(problem, data.train)
    calls = []
    with model:
        for _ in range(context.repeats + 1):
            start = perf_counter()
            trace = pm.sample(
                draws=settings.draws,
                tune=settings.warmup,
                chains=settings.chains,
                cores=1,
                random_seed=context.seed,
                target_accept=settings.target_accept,
                progressbar=False,
                compute_convergence_checks=False,
                return_inferencedata=False,
                compile_kwargs={"mode": mode},
                discard_tuned_samples=False,
                nuts={"max_treedepth": settings.max_tree_depth},
            )
            calls.append(perf_counter() - start)
    run_s = calls[1:]
    chains = settings.chains
    warmup = settings.warmup
    draws = {
        lat.name: np.concatenate(
            [np.asarray(trace.get_values(lat.name, burn=warmup, chains=c), dtype=np.float64) for c in range(chains)]
        )
        for lat in problem.latents
    }

    def stat(name: str, burn: int = warmup) -> np.ndarray:
        return np.concatenate([np.asarray(trace.get_sampler_stats(name, burn=burn, chains=c)) for c in range(chains)])

    per_chain = -np.stack([np.asarray(trace.get_sampler_stats("model_logp", chains=c)) for c in range(chains)])
    iterations = settings.warmup + settings.draws
    return FitResult(
        draws=draws,
        log_q=None,
        losses=per_chain.mean(axis=0).astype(np.float64),  # potential energy per iteration, tuning included
        compile_s=max(calls[0] - float(np.median(run_s)), 0.0),
        run_s=run_s,
        steps=iterations,
        grad_evals=int(stat("tree_size", burn=0).sum()),
        info=_info(settings)
        | {"acceptance_rate": float(stat("mean_tree_accept").mean()), "divergences": float(stat("diverging").sum())},
        chains=chains,
        # chains run one after another: the first n draws of every chain exist once the last chain has them
        checkpoints=mcmc_prefixes(draws, chains, warmup, 1, stat("tree_size", burn=0), sequential=True),
        # ArviZ's names for the NUTS statistics PyMC's trace keeps (its tree depth is "depth")
        sample_stats={
            ours: stat(theirs)
            for ours, theirs in (
                ("diverging", "diverging"),
                ("tree_depth", "depth"),
                ("n_steps", "tree_size"),
                ("acceptance_rate", "mean_tree_accept"),
                ("energy", "energy"),
                ("lp", "model_logp"),
            )
            if theirs in trace.stat_names
        },
    )
