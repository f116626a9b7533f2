"""Networks with numpyro.svi at the seeds' default settings reach the seeds' quality (slow)."""

import numpy as np
import pytest

from bench import scoring
from tests.conftest import fit_method, requires_numpyro

pytestmark = [requires_numpyro, pytest.mark.slow]


def fit_and_score(problem_name, overrides=None, guide="auto_normal"):
    problem, data, result = fit_method("numpyro.svi", problem_name, guide, overrides, draws=1000)
    return result, scoring.score(problem, data, result, None, 0)["metrics"]


def test_moons_reaches_the_seed_auc():
    _, metrics = fit_and_score("moons")
    assert metrics["auc"] >= 0.97


@pytest.mark.heavy  # the full-batch recipe runs by default (test_moons_reaches_the_seed_auc)
def test_moons_minibatch_reaches_auc():
    result, metrics = fit_and_score("moons", {"batch_size": "64"})
    assert metrics["auc"] >= 0.96 and result.steps == 5000


def test_breast_cancer_accuracy():
    _, metrics = fit_and_score("breast_cancer")
    assert metrics["accuracy"] >= 0.86


def test_sine_predictive_mean_tracks_sin_inside_the_data():
    _, metrics = fit_and_score("sine")
    assert metrics["rmse"] <= 0.2
    assert 0 < metrics["coverage_90"] <= 1


def test_seed_recipe_onecycle_and_early_stopping_run_compiled():
    result, metrics = fit_and_score(
        "moons",
        {"schedule": "onecycle", "learning_rate": "0.008", "steps": "2000", "early_stopping": "true", "patience": "50"},
    )
    assert 50 <= result.steps <= 2000 and len(result.losses) == result.steps
    assert np.all(np.isfinite(result.losses)) and np.isfinite(metrics["auc"])


def test_early_stopping_without_a_validation_split_is_unsupported():
    from bench.spec.errors import Unsupported

    with pytest.raises(Unsupported, match="validation split"):
        fit_and_score("breast_cancer", {"early_stopping": "true", "steps": "10"})
