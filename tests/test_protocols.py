"""Protocols (recipe, defaults, tuned) and the convergence verdict: resolved, recorded, chosen by the ELBO."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import backends
import suites
from bench import scoring
from bench.execution.plan import Request, build_plan
from bench.scoring import convergence
from bench.spec.errors import BenchInputError
from bench.spec.methods import resolve_settings
from bench.spec.protocols import EXTENSIONS, LEARNING_RATES, candidate_rates, choose, extension
from tests.conftest import ROOT, fit_method, requires_numpyro, requires_torch


# -- the verdict on its own -------------------------------------------------------------------------


def test_verdict_flags_a_falling_loss_and_passes_a_stationary_one():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=5000)
    assert convergence.convergence_metrics(1000 + noise)["converged"] == 1.0
    falling = 1000 + np.linspace(50, 0, 5000) + noise  # still losing 10 noise sds over the last fifth
    verdict = convergence.convergence_metrics(falling)
    assert verdict["converged"] == 0.0 and verdict["convergence_stat"] > convergence.Z_MAX
    assert convergence.reason(verdict).startswith("not converged: the loss still falls by")
    # a fall of a hundredth of a nat is no reason, however many standard errors it is
    assert convergence.convergence_metrics(1000 + np.linspace(0.02, 0, 5000) + 1e-4 * noise)["converged"] == 1.0
    jumpy = 1000 + noise + np.repeat([0, 5, -5, 0], 250)[np.arange(5000) % 1000]  # level shifts, no fall
    assert convergence.convergence_metrics(jumpy)["convergence_rhat"] > convergence.RHAT_MAX
    assert convergence.convergence_metrics(noise[:30])["converged"] == 0.0  # too short to judge


# -- protocols resolved into every cell's settings ----------------------------------------------------


def test_protocol_is_a_setting_of_every_cell_from_suite_problem_or_run():
    pdb = build_plan(
        Request("posteriordb", problems=["eight_schools_noncentered"], methods=["torch.vi", "numpyro.nuts"])
    )
    assert {c.settings["protocol"] for c in pdb} == {"tuned"}  # posteriordb's default
    assert next(c for c in pdb if c.method == "torch.vi").settings["compile"] is True  # torch compiled under tuned
    toy = build_plan(Request("toy", problems=["gamma"], methods=["torch.vi"]))
    assert toy[0].settings["protocol"] == "recipe"
    mine = build_plan(Request("toy", problems=["gamma"], methods=["torch.vi"], protocol="defaults"))
    assert mine[0].settings["protocol"] == "defaults" and mine[0].settings["learning_rate"] == 0.001
    assert mine[0].hash != toy[0].hash  # the protocol is part of the cell's content hash


def test_library_defaults_and_tuned_settings():
    problem = suites.get_problem("earnings_interaction_z")
    pymc = resolve_settings(backends.get_method("pymc.advi"), problem, "", {}, "defaults")
    assert (pymc["optimizer"], pymc["learning_rate"], pymc["particles"], pymc["steps"]) == (
        "adagrad_window",
        0.001,
        1,
        10_000,
    )
    tuned = resolve_settings(backends.get_method("blackjax.fullrank_vi"), problem, "", {"steps": "500"}, "tuned")
    assert (tuned["schedule"], tuned["init_scale"], tuned["steps"]) == ("step_decay", 0.1, 500)  # --set still wins
    with pytest.raises(BenchInputError, match="learning_rate is what the tuned protocol searches"):
        resolve_settings(backends.get_method("torch.vi"), problem, "", {"learning_rate": "0.1"}, "tuned")
    with pytest.raises(BenchInputError, match="unknown protocol 'fast'"):
        resolve_settings(backends.get_method("torch.vi"), problem, "", {}, "fast")


def test_grid_file_names_the_protocol(tmp_path):
    from bench.execution import grid_config

    path = tmp_path / "grid.toml"
    path.write_text('protocol = "defaults"\n[[grid]]\nsuite = "toy"\n[[grid]]\nsuite = "bnn"\nprotocol = "tuned"\n')
    config = grid_config.load(path)
    assert config.options["protocol"] == "defaults" and [b.protocol for b in config.blocks] == [None, "tuned"]
    path.write_text('[[grid]]\nsuite = "toy"\nprotocol = "best"\n')
    with pytest.raises(BenchInputError, match="unknown protocol 'best'"):
        grid_config.load(path)


def test_bad_protocol_is_one_line_exit_2_nothing_written(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            "toy",
            "--protocol",
            "fastest",
            "--store",
            str(tmp_path / "s.sqlite"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown protocol 'fastest'; valid choices: defaults, recipe, tuned"
    ]
    assert list(tmp_path.iterdir()) == []


# -- the verdict on real fits, both ways ----------------------------------------------------------------


def _verdict(method, problem, variant="", overrides=None, protocol="recipe"):
    method_ = backends.get_method(method)
    problem_ = suites.get_problem(problem)
    settings = resolve_settings(method_, problem_, variant, overrides or {}, protocol)
    problem_, data, fit = fit_method(method, problem, variant, overrides, draws=500, protocol=protocol)
    reference = problem_.reference(data) if problem_.reference else None
    return scoring.score(problem_, data, fit, reference, 0, settings.get("schedule", "constant"))["metrics"]


@requires_torch
def test_verdict_on_a_toy_problem_both_ways():
    under = _verdict("torch.vi", "gamma", overrides={"steps": "300"})  # the example: sd ratio 3.5
    assert under["converged"] == 0.0
    done = _verdict("torch.vi", "gamma", overrides={"steps": "1500", "learning_rate": "0.05"})
    assert done["converged"] == 1.0
    assert "converged" not in _verdict("torch.mh", "gamma", overrides={"draws": "200", "warmup": "200"})  # a sampler


@requires_torch
def test_verdict_catches_a_slow_creep_under_a_constant_rate():
    """torch's own defaults (Adam 1e-3, one draw, eager) on gamma: q creeps towards the posterior and is
    still several times too wide at the end; its fall per step is lost in the noise of the last fifth
    of the trace, not in the last half that a constant rate lets the verdict read."""
    creep = _verdict("torch.vi", "gamma", protocol="defaults")
    assert creep["sd_ratio_max"] > 2  # far from converged, as the reference shows (the verdict never sees it)
    assert creep["converged"] == 0.0 and creep["convergence_window"] == 0.5


@requires_numpyro
def test_verdict_on_a_posteriordb_posterior_both_ways():
    common = {"steps": "2000", "particles": "1"}
    under = _verdict("numpyro.svi", "earnings_interaction_z", "auto_normal", {**common, "learning_rate": "0.001"})
    assert under["converged"] == 0.0
    done = _verdict(
        "numpyro.svi",
        "earnings_interaction_z",
        "auto_normal",
        {**common, "learning_rate": "0.05", "schedule": "step_decay"},
    )
    assert done["converged"] == 1.0


# -- the search: chosen by the ELBO, never by the reference, and kept in the store ----------------------


def test_choose_takes_the_best_finite_elbo():
    assert choose(LEARNING_RATES, [-5.0, float("nan"), -1.0, -2.0, -9.0]) == LEARNING_RATES[2]
    with pytest.raises(FloatingPointError):
        choose(LEARNING_RATES, [float("nan")] * 5)


def test_the_search_goes_past_an_edge_of_the_grid_that_wins():
    rates = list(LEARNING_RATES)  # 0.1 down to 0.001
    assert extension(rates, [-10.0, -12.0, -15.0, -20.0, -30.0]) == EXTENSIONS["up"]  # 0.1 beat 0.03 by 2 nats
    assert extension(rates, [-30.0, -20.0, -15.0, -12.0, -10.0]) == EXTENSIONS["down"]
    assert extension(rates, [-10.05, -10.0, -11.0, -12.0, -13.0]) == ()  # bracketed: the best is inside
    assert extension(rates, [-10.0, -10.05, -11.0, -12.0, -13.0]) == ()  # an edge, but by less than the margin
    seen, elbos = [], []
    for rate in candidate_rates(rates, elbos):
        seen.append(rate)
        elbos.append(100 * rate)  # the larger the better, without end
    assert seen == [*LEARNING_RATES, *EXTENSIONS["up"]] and rates == seen  # extended once, never twice


@pytest.mark.parametrize("method", ["torch.vi", pytest.param("numpyro.svi", marks=requires_numpyro)])
@requires_torch
def test_an_under_budget_search_extends_its_grid_and_keeps_the_best(method):
    """gamma in 60 steps: the largest rate of the grid wins by far, so the search tries 0.32 and 1."""
    variant = "auto_normal" if method == "numpyro.svi" else ""
    overrides = {"steps": "60", "particles": "2"} | ({"compile": "false"} if method == "torch.vi" else {})
    _, _, fit = fit_method(method, "gamma", variant, overrides, draws=200, protocol="tuned")
    tuning = fit.info["tuning"]
    assert tuning["learning_rates"] == [*LEARNING_RATES, *EXTENSIONS["up"]]
    assert tuning["chosen"] == tuning["learning_rates"][int(np.nanargmax(np.array(tuning["elbos"], dtype=float)))]
    assert fit.grad_evals == 7 * 60 * 2  # every candidate counted


@requires_torch
def test_search_picks_by_elbo_where_the_reference_would_pick_otherwise():
    """gaussian2d (correlation 0.8) with a mean-field q started at the true marginal sd: the rate that
    barely moves q keeps sd ratios near 1 (the smallest reference error), but the mean-field optimum,
    with its shrunk sds, has the higher ELBO. The search must take the ELBO's side."""
    start = {"init_scale": f"{np.sqrt(5):.4f}", "steps": "300", "particles": "4", "compile": "false"}
    method = backends.get_method("torch.vi")
    problem = suites.get_problem("gaussian2d")
    data = problem.make_data(0)
    from bench.spec.fitting import FitContext

    def scored(protocol, extra):
        settings = method.make_settings(resolve_settings(method, problem, "", {**start, **extra}, protocol))
        fit = method.load_fit()(problem, data, settings, FitContext(0, "cpu", "float32", 1, 2000))
        return fit, scoring.score(problem, data, fit, problem.reference(data), 0)["metrics"]

    tuned, tuned_metrics = scored("tuned", {})
    tuning = tuned.info["tuning"]
    assert tuning["chosen"] == tuning["learning_rates"][int(np.nanargmax(np.array(tuning["elbos"], dtype=float)))]
    slowest, slowest_metrics = scored("recipe", {"learning_rate": str(LEARNING_RATES[-1]), "schedule": "step_decay"})
    assert tuning["chosen"] != LEARNING_RATES[-1]
    assert tuned_metrics["elbo"] > slowest_metrics["elbo"]  # better by the ELBO ...
    assert abs(1 - tuned_metrics["sd_ratio_min"]) > abs(
        1 - slowest_metrics["sd_ratio_min"]
    )  # ... worse by the reference
    assert tuning["grad_evals"] == len(tuning["learning_rates"]) * 300 * 4


@requires_torch
def test_tuning_record_round_trips_through_the_store(tmp_path):
    from bench.store import queries

    store = tmp_path / "s.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            "toy",
            "--problems",
            "gaussian2d",
            "--methods",
            "torch.vi",
            "--protocol",
            "tuned",
            "--set",
            "steps=200",
            "--set",
            "compile=false",
            "--repeats",
            "1",
            "--draws",
            "500",
            "--store",
            str(store),
            "--no-compile-cache",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = queries.load(store, "records").itertuples()
    settings, info = json.loads(row.settings), json.loads(row.info)
    assert settings["protocol"] == "tuned"
    tuning = info["tuning"]
    assert tuning["learning_rates"][: len(LEARNING_RATES)] == list(LEARNING_RATES)
    assert len(tuning["elbos"]) == len(tuning["learning_rates"]) and tuning["chosen"] in tuning["learning_rates"]
    assert tuning["grad_evals"] == len(tuning["learning_rates"]) * 200 * settings["particles"] and tuning["seconds"] > 0
    metrics = dict(queries.scalar_metrics(store)[["metric", "value"]].itertuples(index=False))
    assert metrics["converged"] in (0.0, 1.0) and "convergence_stat" in metrics
