"""Every metric is computed here, from what the adapter returned, the same way for every backend.

- ELBO: one estimator for all, mean of log p(theta, D) - log q(theta) over draws from q, with
  log p from the spec's own numpy evaluation; its Monte Carlo standard error; PSIS k-hat.
- Parameter problems: per component, standardised mean error, sd ratio and 1-D Wasserstein
  distance to exact reference draws; aggregated max and mean (and min for the sd ratio).
- Networks: function-space metrics on the test points (bench.scoring.predictive), and agreement with the
  reference's predictive mean where a reference exists.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

from bench.spec.draws import batched_where_it_agrees, flatten, num_draws, over_draws
from bench.spec.fitting import FitResult
from bench.spec.ops import NUMPY
from bench.spec.problem import Dataset, Problem
from bench.spec.references import Reference
from bench.scoring import convergence, diagnostics
from bench.scoring import predictive
from bench.scoring.metrics import METRICS

KHAT_MIN_DRAWS = 2000
KHAT_FLAG = METRICS["khat"].flag.above  # the catalogue's flag rule (0.7)
REFERENCE_DRAWS = 20_000
TRACE_POINTS = 1000


def psis_khat(log_weights: np.ndarray) -> float:
    """Pareto k-hat of the importance weights p/q (ArviZ's PSIS); NaN below 2,000 draws."""
    if len(log_weights) < KHAT_MIN_DRAWS or not np.all(np.isfinite(log_weights)):
        return float("nan")
    return diagnostics.psis_khat(log_weights)


def elbo_metrics(problem: Problem, data: Dataset, fit: FitResult) -> dict[str, float]:
    if fit.log_q is None:
        return {}
    log_p = problem.log_joint_draws(fit.draws, data)
    log_w = log_p - np.asarray(fit.log_q, dtype=np.float64)
    n = len(log_w)
    finite = np.isfinite(log_w)
    metrics = {
        "elbo": float(np.mean(log_w)),
        "elbo_se": float(np.std(log_w, ddof=1) / np.sqrt(n)) if finite.all() else float("nan"),
        "khat": psis_khat(log_w),
        "draws_outside_support": float(np.sum(~np.isfinite(log_p))),
    }
    khat = metrics["khat"]
    metrics["khat_flag"] = float(khat > KHAT_FLAG) if np.isfinite(khat) else float("nan")  # no k-hat, no verdict
    return metrics


def reference_moments(problem: Problem, reference: Reference) -> tuple[np.ndarray, np.ndarray]:
    """The reference's mean and sd as flat vectors, one entry per scored scalar component."""
    shapes = problem.scored_shapes()
    _, mean = flatten({k: np.asarray(v)[None] for k, v in reference.mean.items()}, shapes)
    _, sd = flatten({k: np.asarray(v)[None] for k, v in reference.sd.items()}, shapes)
    return mean[0], sd[0]


def standardised_mean_errors(q: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray) -> np.ndarray:
    """|mean of q's draws - reference mean| / reference sd, per component (draws x components in)."""
    return np.abs(q.mean(axis=0) - ref_mean) / ref_sd


def parameter_metrics(problem: Problem, fit: FitResult, reference: Reference, seed: int) -> tuple[dict, dict]:
    """(aggregates, per-component values) comparing q's draws (and derived quantities) with the reference."""
    shapes = problem.scored_shapes()
    names, q = flatten(problem.with_derived(fit.draws), shapes)
    _, ref_draws = flatten(reference.draws(np.random.default_rng(seed), REFERENCE_DRAWS), shapes)
    ref_mean, ref_sd = reference_moments(problem, reference)
    per_component = {
        "std_mean_err": standardised_mean_errors(q, ref_mean, ref_sd),
        "sd_ratio": q.std(axis=0, ddof=1) / ref_sd,
        "w1": np.array([stats.wasserstein_distance(q[:, j], ref_draws[:, j]) for j in range(q.shape[1])]),
    }
    per_component["w1_sd"] = per_component["w1"] / ref_sd  # in reference sds: comparable across components
    aggregates: dict[str, float] = {}
    for metric, values in per_component.items():
        aggregates[f"{metric}_max"] = float(np.max(values))
        aggregates[f"{metric}_mean"] = float(np.mean(values))
    aggregates["sd_ratio_min"] = float(
        np.min(per_component["sd_ratio"])
    )  # beside sd_ratio_max: too narrow and too wide
    worst = int(np.argmax(per_component["std_mean_err"]))
    aggregates["std_mean_err_max_se"] = _mean_mcse(q[:, worst], fit.chains) / float(ref_sd[worst])
    components = {metric: dict(zip(names, map(float, values))) for metric, values in per_component.items()}
    return aggregates, components


def _mean_mcse(values: np.ndarray, chains: int) -> float:
    """Monte Carlo standard error of a mean: ArviZ's (ESS-based) for chains, sd / sqrt(n) for
    independent draws from q. The regression gate weighs moment changes against it."""
    if chains and chains > 1:
        from bench.spec.arviz_setup import arviz

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(arviz().mcse(values.reshape(chains, -1), method="mean"))
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def mcmc_metrics(problem: Problem, fit: FitResult) -> dict[str, float]:
    """Rank-normalised bulk and tail ESS, split R-hat (arviz-stats), ESS per second, acceptance, divergences."""
    if not fit.chains:
        return {}
    shapes = {lat.name: lat.shape for lat in problem.latents}
    _, matrix = flatten(fit.draws, shapes)
    per_chain = matrix.reshape(fit.chains, -1, matrix.shape[1])
    bulk, tail = diagnostics.ess(per_chain, "bulk"), diagnostics.ess(per_chain, "tail")
    rhat = diagnostics.rhat(per_chain)
    run_s = float(np.median(fit.run_s))
    metrics = {
        "ess_bulk_min": float(np.min(bulk)),
        "ess_tail_min": float(np.min(tail)),
        "r_hat_max": float(np.max(rhat)),
        "ess_per_s": float(np.min(bulk)) / run_s if run_s > 0 else float("nan"),
    }
    for key in ("acceptance_rate", "divergences"):
        if key in fit.info:
            metrics[key] = float(fit.info[key])
    return metrics


def cost_metrics(fit: FitResult) -> dict[str, float]:
    run_s = float(np.median(fit.run_s))
    metrics = {"compile_s": fit.compile_s, "run_s": run_s, "steps": float(fit.steps)}
    metrics["steps_per_s"] = fit.steps / run_s if run_s > 0 else float("nan")
    fastest = float(np.min(fit.run_s)) if len(fit.run_s) else float("nan")
    metrics["run_s_spread"] = float(np.max(fit.run_s)) / fastest if fastest > 0 else float("nan")  # slowest / fastest
    if fit.grad_evals is not None:
        metrics["grad_evals"] = float(fit.grad_evals)
    return metrics


def loss_metrics(fit: FitResult) -> dict[str, float]:
    """The library's own final loss: the mean of the last 100 steps, as NumPyro's progress bar shows."""
    tail = fit.losses[-min(100, len(fit.losses)) :]
    return {"loss_native": float(np.mean(tail))} if len(tail) else {}


def thin_trace(losses: np.ndarray, points: int = TRACE_POINTS) -> dict[str, list]:
    """At most `points` (step, mean loss over the window ending at step) pairs: enough to plot."""
    losses = np.asarray(losses, dtype=np.float64)
    if len(losses) == 0:
        return {"step": [], "loss": []}
    edges = np.unique(np.linspace(0, len(losses), min(points, len(losses)) + 1).astype(int))
    means = [float(np.mean(losses[a:b])) for a, b in zip(edges[:-1], edges[1:])]
    return {"step": [int(b) for b in edges[1:]], "loss": means}


def first_nonfinite_step(losses: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(np.asarray(losses, dtype=np.float64)))
    return int(bad[0]) + 1 if len(bad) else None


def _predictions_loop(problem: Problem, draws: dict[str, np.ndarray], x: np.ndarray | None) -> np.ndarray:
    return np.stack([problem.predictive_mean({k: v[s] for k, v in draws.items()}, x) for s in range(num_draws(draws))])


def _predictions_batched(problem: Problem, draws: dict[str, np.ndarray], x: np.ndarray | None) -> np.ndarray:
    """All draws in one evaluation of the spec (bench.spec.draws.over_draws)."""
    batched = over_draws(draws, {lat.name: lat.shape for lat in problem.latents})
    return np.asarray(problem.predictive_mean(batched, x)).reshape(num_draws(draws), -1)


def predictions(problem: Problem, draws: dict[str, np.ndarray], x: np.ndarray | None) -> np.ndarray:
    """E[y | theta_s, x_i] for every draw s and point i: shape (draws, points), all draws at once
    where the spec's shapes allow (checked against the draw-by-draw evaluation)."""
    return batched_where_it_agrees(
        lambda part: _predictions_batched(problem, part, x), lambda part: _predictions_loop(problem, part, x), draws
    )


def inside_training_range(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    low, high = x_train.min(axis=0), x_train.max(axis=0)
    return np.all((x_test >= low) & (x_test <= high), axis=1)


def function_space_metrics(
    problem: Problem,
    data: Dataset,
    draws: dict[str, np.ndarray],
    reference: Reference | None,
    seed: int,
    standard_errors: bool = False,
) -> dict[str, float]:
    """With standard_errors, also the AUC's bootstrap standard error (the final scoring, not checkpoints)."""
    test = data.test
    preds = predictions(problem, draws, test.x)
    if problem.task == "classification":
        metrics = predictive.classification_metrics(test.y, preds)
        if standard_errors:
            metrics["auc_se"] = predictive.auc_standard_error(test.y, preds.mean(axis=0), seed)
    else:
        first = {k: v[0] for k, v in draws.items()}
        noise_sd = float(problem.likelihood.params(NUMPY, first, test.x)["scale"])
        inside = inside_training_range(data.train.x, test.x)
        metrics = predictive.regression_metrics(test.y, test.f, preds, noise_sd, inside, seed)
    if reference is not None and reference.predictive_test is not None:
        metrics["ref_agreement"] = predictive.agreement(preds.mean(axis=0), reference.predictive_test)
    return metrics


def function_space_quality(problem: Problem, data: Dataset, draws: dict[str, np.ndarray]) -> float:
    """The task's quality metric alone (test AUC, or RMSE to the true function), as
    function_space_metrics computes it: what each checkpoint needs, without the per-draw AUCs."""
    test = data.test
    preds = predictions(problem, draws, test.x)
    if problem.task == "classification":
        return predictive.auc_of_mean(test.y, preds)
    if test.f is None:
        return float("nan")
    return predictive.rmse_to_truth(test.f, preds, inside_training_range(data.train.x, test.x))


def score(
    problem: Problem,
    data: Dataset,
    fit: FitResult,
    reference: Reference | None,
    seed: int,
    schedule: str | None = "constant",
) -> dict[str, Any]:
    """All metrics of a finished fit: {'metrics': {...}, 'components': {...}}. `schedule`: the fit's
    learning-rate schedule (its settings'), which decides how much of the loss trace the verdict reads."""
    metrics = {
        **cost_metrics(fit),
        **loss_metrics(fit),
        **elbo_metrics(problem, data, fit),
        **mcmc_metrics(problem, fit),
    }
    if fit.iterative:
        metrics.update(convergence.convergence_metrics(fit.losses, schedule))
    components: dict[str, dict[str, float]] = {}
    if problem.task == "density" and reference is not None:
        aggregates, components = parameter_metrics(problem, fit, reference, seed)
        metrics.update(aggregates)
    elif problem.task in ("classification", "regression"):
        metrics.update(function_space_metrics(problem, data, fit.draws, reference, seed, standard_errors=True))
    return {"metrics": metrics, "components": components}


COST_ONLY_DRAWS = 10  # a cost-only cell's test-set quality comes from this many draws


def cost_only_metrics(problem, data, fit, seed: int) -> dict[str, float]:
    """The metrics of a cost-only problem's cell: cost, time per step and per gradient evaluation,
    the library's final loss, and the test-set quality from a few draws (cheap at any N)."""
    from bench.spec.draws import thin

    metrics = {**cost_metrics(fit), **loss_metrics(fit)}
    run_s = metrics["run_s"]
    metrics["time_per_step_s"] = run_s / fit.steps if fit.steps else math.nan
    metrics["time_per_grad_s"] = run_s / fit.grad_evals if fit.grad_evals else math.nan
    for key in ("acceptance_rate", "divergences", "mean_tree_steps"):
        if key in fit.info:
            metrics[key] = float(fit.info[key])
    metrics.update(function_space_metrics(problem, data, thin(fit.draws, COST_ONLY_DRAWS), None, seed))
    return metrics
