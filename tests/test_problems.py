"""Contract tests for every problem: deterministic data, finite spec density, exact references."""

import numpy as np
import pytest

import suites
from bench.spec.problem import Problem

TOY = suites.problem_names("toy")


@pytest.mark.parametrize("name", TOY)
def test_problem_contract(name):
    problem = suites.get_problem(name)
    assert isinstance(problem, Problem) and problem.name == name
    first, again, other = problem.make_data(0), problem.make_data(0), problem.make_data(1)
    assert first.fingerprint() == again.fingerprint()
    if problem.likelihood is not None and name == "gamma":
        assert first.fingerprint() != other.fingerprint()
    assert np.isfinite(problem.log_joint(problem.central_point(), first))
    assert np.isfinite(problem.log_joint(problem.random_point(np.random.default_rng(1)), first))
    reference = problem.reference(first)
    assert reference.verdict == "ok" and reference.provenance["method"]
    draws = reference.draws(np.random.default_rng(0), 100_000)
    for latent in problem.latents:
        values = draws[latent.name]
        mean, sd = float(reference.mean[latent.name]), float(reference.sd[latent.name])
        # The exact sampler agrees with the exact moments within 5 Monte Carlo standard errors.
        assert abs(values.mean() - mean) < 5 * sd / np.sqrt(len(values))
        assert values.std() == pytest.approx(sd, rel=0.02)


def test_exact_reference_values():
    coin = suites.get_problem("coinflip").reference(None)
    assert float(coin.mean["f"]) == pytest.approx(0.5909, abs=1e-4)
    assert float(coin.sd["f"]) == pytest.approx(0.1025, abs=1e-4)
    banana = suites.get_problem("banana").reference(None)
    assert float(banana.mean["y"]) == pytest.approx(0.9) and float(banana.sd["y"]) == pytest.approx(np.sqrt(2.62))
    g2d = suites.get_problem("gaussian2d").reference(None)
    np.testing.assert_allclose(g2d.provenance["covariance"], [[5, 4], [4, 5]], atol=1e-12)


def test_gamma_quadrature_matches_the_conjugate_free_laplace_scale():
    problem = suites.get_problem("gamma")
    data = problem.make_data(0)
    reference = problem.reference(data)
    # Fisher information of the Gamma shape: n * trigamma(a); the posterior sd is close to its inverse root.
    from scipy.special import polygamma

    a = float(reference.mean["concentration"])
    assert float(reference.sd["concentration"]) == pytest.approx(1 / np.sqrt(1000 * polygamma(1, a)), rel=0.03)
    assert reference.provenance["abs_error_estimate"]["mean"] < 1e-6


def test_bimodal_quadrature_is_symmetric_and_converged():
    reference = suites.get_problem("bimodal").reference(None)
    assert abs(float(reference.mean["x"])) < 1e-6 and abs(float(reference.mean["y"])) < 1e-6
    assert float(reference.sd["x"]) == pytest.approx(float(reference.sd["y"]), rel=1e-9)
    assert reference.provenance["abs_error_estimate"]["sd"] < 1e-4


def test_unknown_names_list_the_valid_choices():
    from bench.spec.errors import BenchInputError

    with pytest.raises(BenchInputError, match="valid choices: .*coinflip"):
        suites.get_problem("coin")
    with pytest.raises(BenchInputError, match="valid choices: bnn, nightly, posteriordb, scale, toy"):
        suites.problem_names("nope")


def test_network_data_follows_the_seeds():
    moons = suites.get_problem("moons").make_data(0)
    assert (len(moons.train), len(moons.val), len(moons.test)) == (980, 420, 600)
    assert moons.train.x.shape == (980, 2) and set(np.unique(moons.train.y)) == {0.0, 1.0}
    cancer = suites.get_problem("breast_cancer").make_data(0)
    assert (len(cancer.train), len(cancer.test)) == (284, 285) and cancer.val is None
    both = np.concatenate([cancer.train.x, cancer.test.x])
    np.testing.assert_allclose(both.mean(axis=0), 0.0, atol=1e-12)  # standardised
    np.testing.assert_allclose(both.std(axis=0), 1.0, atol=1e-12)
    sine = suites.get_problem("sine").make_data(0)
    assert sine.train.x.shape == (20, 1) and sine.test.x.shape == (200, 1)
    assert np.all(np.abs(sine.train.x) <= 3) and np.allclose(sine.test.f, np.sin(sine.test.x[:, 0]))
    assert np.std(sine.train.y - sine.train.f) == pytest.approx(0.1, abs=0.05)


@pytest.mark.parametrize("name", ["moons", "breast_cancer", "sine"])
def test_network_problem_contract(name):
    problem = suites.get_problem(name)
    assert problem.suite == "bnn" and problem.task in ("classification", "regression")
    data = problem.make_data(3)
    assert data.fingerprint() == problem.make_data(3).fingerprint() != problem.make_data(4).fingerprint()
    point = problem.random_point(np.random.default_rng(0))
    assert np.isfinite(problem.log_joint(point, data))
    prediction = problem.predictive_mean(point, data.test.x)
    assert prediction.shape == (len(data.test),)
    if problem.task == "classification":
        assert np.all((prediction > 0) & (prediction < 1))


def test_network_shapes_are_parameters():
    from suites.bnn import moons

    wide = moons.make_problem(hidden=(16, 16), n_samples=4000)
    assert sum(lat.size for lat in wide.latents) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert len(wide.make_data(0).train) == 1960
    assert wide.fingerprint() != moons.PROBLEM.fingerprint()
