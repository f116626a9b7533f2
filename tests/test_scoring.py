"""The common scoring: ELBO, its standard error and k-hat, moment errors, traces."""

import numpy as np
import pytest
from scipy import special, stats

import suites
from bench import scoring
from bench.spec.fitting import FitResult


def fit_with(draws, log_q, losses=np.zeros(10)):
    return FitResult(draws=draws, log_q=log_q, losses=losses, compile_s=1.0, run_s=[2.0, 1.0, 3.0], steps=10)


def test_elbo_of_the_exact_posterior_is_the_log_evidence():
    problem = suites.get_problem("coinflip")
    data = problem.make_data(0)
    f = np.random.default_rng(0).beta(13, 9, size=4000)
    metrics = scoring.elbo_metrics(problem, data, fit_with({"f": f}, stats.beta(13, 9).logpdf(f)))
    log_evidence = special.betaln(13, 9)  # uniform prior: p(D) = B(13, 9)
    assert metrics["elbo"] == pytest.approx(log_evidence, abs=1e-9)
    assert metrics["elbo_se"] < 1e-9
    assert metrics["khat"] < 0.5 and metrics["khat_flag"] == 0.0


def test_elbo_of_a_too_narrow_q_is_lower_and_flags_khat():
    problem = suites.get_problem("gaussian2d")
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 0.5, 4000), rng.normal(0, 0.5, 4000)
    log_q = stats.norm(0, 0.5).logpdf(x) + stats.norm(0, 0.5).logpdf(y)
    metrics = scoring.elbo_metrics(problem, problem.make_data(0), fit_with({"x": x, "y": y}, log_q))
    assert metrics["elbo"] < np.log(6 * np.pi) - 0.5
    assert metrics["elbo_se"] > 0
    assert metrics["khat"] > 0.7 and metrics["khat_flag"] == 1.0


def test_khat_needs_enough_draws():
    assert np.isnan(scoring.psis_khat(np.zeros(100)))


def test_parameter_metrics_measure_a_known_shift_and_scale():
    problem = suites.get_problem("banana")
    reference = problem.reference(None)
    rng = np.random.default_rng(2)
    exact = reference.draws(rng, 8000)
    shifted = {"x": exact["x"] + 1.5, "y": exact["y"] * 2.0}
    aggregates, components = scoring.parameter_metrics(problem, fit_with(shifted, None), reference, seed=0)
    assert components["std_mean_err"]["x"] == pytest.approx(0.5, abs=0.05)  # shift 1.5 / sd 3
    assert components["sd_ratio"]["y"] == pytest.approx(2.0, rel=0.05)
    assert components["w1"]["x"] == pytest.approx(1.5, abs=0.1)
    assert aggregates["std_mean_err_max"] == max(components["std_mean_err"].values())
    assert aggregates["sd_ratio_min"] == pytest.approx(1.0, abs=0.05)


def test_cost_metrics_use_the_median_repeat():
    metrics = scoring.cost_metrics(fit_with({"f": np.zeros(3)}, None))
    assert metrics["run_s"] == 2.0 and metrics["steps_per_s"] == 5.0 and metrics["compile_s"] == 1.0


def test_trace_is_thinned_to_window_means_and_non_finite_steps_found():
    trace = scoring.thin_trace(np.arange(10_000, dtype=float), points=100)
    assert len(trace["step"]) == 100 and trace["step"][-1] == 10_000
    assert trace["loss"][0] == pytest.approx(np.mean(np.arange(100)))
    assert scoring.thin_trace(np.ones(5))["step"] == [1, 2, 3, 4, 5]
    assert scoring.first_nonfinite_step(np.array([1.0, 2.0, np.inf, np.nan])) == 3
    assert scoring.first_nonfinite_step(np.ones(4)) is None


def test_khat_flag_is_nan_where_khat_is():
    """Below 2,000 draws there is no k-hat, so no verdict on it either (a 0 would read as "fine")."""
    problem = suites.get_problem("coinflip")
    data = problem.make_data(0)
    f = np.random.default_rng(0).beta(13, 9, size=500)
    metrics = scoring.elbo_metrics(problem, data, fit_with({"f": f}, stats.beta(13, 9).logpdf(f)))
    assert np.isnan(metrics["khat"]) and np.isnan(metrics["khat_flag"])
    assert np.isfinite(metrics["elbo"])
