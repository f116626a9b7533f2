"""Function-space metrics against hand-computed cases."""

import numpy as np
import pytest

from bench.scoring import predictive

Y = np.array([0, 0, 1, 1, 1, 0], dtype=float)


def test_perfect_predictor():
    p = np.tile(Y, (5, 1))  # every draw certain and right
    m = predictive.classification_metrics(Y, p)
    assert m["auc"] == 1.0 and m["accuracy"] == 1.0 and m["auc_draws_mean"] == 1.0 and m["auc_draws_sd"] == 0.0
    assert m["brier"] == pytest.approx(0.0, abs=1e-12) and m["ece"] == pytest.approx(0.0, abs=1e-12)
    assert m["lpd"] == pytest.approx(0.0, abs=1e-9)


def test_inverted_predictor():
    p = np.tile(1 - Y, (5, 1)) * 0.8 + 0.1  # confidently wrong: 0.9 on the wrong class
    m = predictive.classification_metrics(Y, p)
    assert m["auc"] == 0.0 and m["accuracy"] == 0.0
    assert m["brier"] == pytest.approx(0.81)
    assert m["lpd"] == pytest.approx(np.log(0.1))
    assert m["ece"] == pytest.approx(0.9 * 0.5 + 0.9 * 0.5)  # two bins, each off by 0.9


def test_constant_predictor():
    m = predictive.classification_metrics(Y, np.full((4, len(Y)), 0.5))
    assert m["auc"] == 0.5 and m["brier"] == pytest.approx(0.25) and m["lpd"] == pytest.approx(np.log(0.5))
    assert m["ece"] == pytest.approx(0.0)  # half the labels are 1: 0.5 is calibrated


def test_predictive_density_averages_probabilities_not_logs():
    y = np.array([1.0])
    p = np.array([[0.9], [0.1]])
    assert predictive.classification_metrics(y, p)["lpd"] == pytest.approx(np.log(0.5))


def test_regression_metrics():
    x = np.linspace(-3, 3, 200)
    truth = np.sin(x)
    f_draws = np.tile(truth + 0.1, (2000, 1))  # mean off by 0.1 everywhere, no spread
    y = truth.copy()
    m = predictive.regression_metrics(y, truth, f_draws, noise_sd=0.1, inside=np.abs(x) < 2)
    assert m["rmse"] == pytest.approx(0.1) and m["rmse_all"] == pytest.approx(0.1)
    assert m["lpd"] == pytest.approx(-0.5 - np.log(0.1) - 0.5 * np.log(2 * np.pi))
    # y sits one noise sd below the predictive mean: inside the 90% interval (+-1.645 sd).
    assert m["coverage_90"] == 1.0
    far = predictive.regression_metrics(y + 1.0, truth, f_draws, noise_sd=0.1)
    assert far["coverage_90"] == 0.0


def test_agreement():
    assert predictive.agreement(np.array([0.2, 0.8]), np.array([0.3, 0.6])) == pytest.approx(0.15)


def test_vectorised_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300).astype(float)
    scores = np.round(rng.uniform(size=(20, 300)) + 0.3 * y, 1)  # rounding makes ties
    expected = [roc_auc_score(y, row) for row in scores]
    np.testing.assert_allclose(predictive.auc_rows(y, scores), expected, rtol=1e-12)
