"""Cost to accuracy: the first checkpoint from which the quality metric stays within each threshold,
against checkpoints of real fits on a problem with an exact reference (VI and MCMC on one axis), and
`not reached` through the store into `bench report` and `bench plot --kind accuracy`."""

import numpy as np
import pytest

from bench import store
from bench.reporting import report
from bench.scoring import checkpoints
from bench.scoring.accuracy import cost_to_accuracy, first_reached
from bench.scoring.metrics import METRICS, THRESHOLDS, thresholds_for
from tests.conftest import fit_method, requires_numpyro
from tests.test_cli import bench


def test_first_reached_is_where_the_quality_stays_within_the_threshold():
    quality = np.array([2.0, 0.25, 0.5, 0.2, np.nan, 0.1, 0.05])
    assert first_reached(quality, 0.3, higher_is_better=False) == 5  # the dip at 1 and the NaN at 4 do not count
    assert first_reached(quality, 3.0, higher_is_better=False) == 5  # NaN never reaches
    assert first_reached(quality[:4], 0.3, higher_is_better=False) == 3
    assert first_reached(np.array([0.5, 0.9, 0.95]), 0.9, higher_is_better=True) == 1
    assert first_reached(np.array([0.5, 0.9, 0.8]), 0.9, higher_is_better=True) is None  # lost at the end
    assert first_reached(np.array([]), 0.9, higher_is_better=True) is None


def test_thresholds_are_in_the_catalogue_with_their_metrics():
    assert [t.value for t in thresholds_for("density")] == [1.0, 0.3, 0.1]
    for t in THRESHOLDS:
        for suffix in ("s", "steps", "grads", "reached"):
            assert METRICS[f"to_{t.name}_{suffix}"].tasks == (t.task,)
    auc = thresholds_for("classification")[0]
    assert auc.target(0.9) == pytest.approx(0.9 - auc.value) and np.isnan(auc.target(None))
    assert thresholds_for("regression")[0].target(0.2) == pytest.approx(0.2 + thresholds_for("regression")[0].value)


def _assert_consistent(metrics, arrays, grads_per_step=None):
    """Every threshold reached is the checkpoint from which the quality stays within it, and its
    seconds, steps and gradient evaluations are that checkpoint's."""
    quality, steps = arrays["checkpoint_quality"], arrays["checkpoint_step"]
    for t in thresholds_for("density"):
        if not metrics[f"to_{t.name}_reached"]:
            assert quality[-1] > t.value and f"to_{t.name}_steps" not in metrics and f"to_{t.name}_s" not in metrics
            continue
        i = int(np.flatnonzero(steps == metrics[f"to_{t.name}_steps"])[0])
        assert np.all(quality[i:] <= t.value) and (i == 0 or quality[i - 1] > t.value)
        assert metrics[f"to_{t.name}_s"] == arrays["checkpoint_run_s"][i]
        assert metrics[f"to_{t.name}_grads"] == arrays["checkpoint_grads"][i]
        if grads_per_step is not None:
            assert metrics[f"to_{t.name}_grads"] == steps[i] * grads_per_step


def _cost(problem, data, fit):
    reference = problem.reference(data)
    arrays = checkpoints.checkpoint_arrays(
        problem, data, fit.checkpoints, float(np.median(fit.run_s)), reference, 0, fit.grad_evals
    )
    return arrays, cost_to_accuracy(problem.task, arrays)


@requires_numpyro
def test_a_short_vi_fit_does_not_reach_the_tight_threshold():
    problem, data, fit = fit_method("numpyro.svi", "coinflip", "auto_normal", {"steps": "3"})
    arrays, metrics = _cost(problem, data, fit)
    assert list(arrays["checkpoint_step"]) == [1, 2, 3]
    assert metrics["to_smerr_0.1_reached"] == 0.0 and "to_smerr_0.1_grads" not in metrics
    _assert_consistent(metrics, arrays, grads_per_step=fit.grad_evals / fit.steps)


@requires_numpyro
def test_nuts_reaches_the_thresholds_at_a_checkpoint_counted_in_gradient_evaluations():
    problem, data, fit = fit_method("numpyro.nuts", "coinflip", "", {"chains": "2", "warmup": "100", "draws": "200"})
    arrays, metrics = _cost(problem, data, fit)
    assert metrics["to_smerr_1_reached"] == 1.0 and metrics["to_smerr_0.3_reached"] == 1.0
    _assert_consistent(metrics, arrays)
    # the warm-up is paid before the first estimate exists, and no estimate costs more than the run
    assert fit.grad_evals >= metrics["to_smerr_0.3_grads"] > 0 and metrics["to_smerr_0.3_steps"] > 100


def test_not_reached_round_trips_through_the_store_into_the_report(small_store):
    table = report.latest_records(small_store, problems=["coinflip"], methods=["numpyro.svi:auto_normal"])
    assert len(table) == 2 and (table["to_smerr_1_reached"] == 1).all()
    assert (table["to_smerr_0.1_reached"] == 0).all() and table.get(
        "to_smerr_0.1_s", table["seed"] * np.nan
    ).isna().all()
    assert (table["to_smerr_1_steps"] >= 1).all() and (table["to_smerr_1_grads"] >= table["to_smerr_1_steps"]).all()
    sine = report.latest_records(small_store, problems=["sine"])
    assert sine["quality_ref"].notna().all() and "to_rmse_0.05_reached" in sine
    out = bench("report", "--store", str(small_store), "--problems", "coinflip,sine", cwd=small_store.parent)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "### toy: cost to accuracy (density)" in text and "| max std err <= 1 | max std err <= 0.3 |" in text
    row = next(
        line
        for line in text.splitlines()
        if line.startswith("| coinflip | numpyro.svi:auto_normal |") and "(2/2)" in line
    )
    assert row.endswith("not reached (0/2) |")
    assert "### bnn: cost to accuracy (regression)" in text and "RMSE <= ref + 0.05" in text
    assert "testing.exact" not in text.split("cost to accuracy")[1]  # no checkpoints, no row


def test_the_accuracy_figure_marks_thresholds_on_log_axes(small_store):
    from bench.reporting import plots_accuracy

    table = report.latest_records(small_store)
    figures = plots_accuracy.figures(small_store, table)
    assert {"accuracy_coinflip", "accuracy_banana", "accuracy_sine"} <= set(figures)
    left, right = figures["accuracy_coinflip"].axes
    assert left.get_xlabel().startswith("gradient evaluations") and right.get_xlabel().startswith("seconds")
    assert left.get_xscale() == right.get_xscale() == left.get_yscale() == "log"
    marked = {text.get_text() for text in left.texts}
    assert marked == {t.label() for t in thresholds_for("density")}
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["numpyro.svi:auto_normal"]
    record = table.loc[table["method"] == "numpyro.svi:auto_normal", "record_id"].iloc[0]
    assert len(store.load_arrays(small_store, int(record), prefix="checkpoint_grads")["checkpoint_grads"]) > 10
