"""The spec's numpy log densities are the ground truth: check them against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from bench.spec import likelihoods, priors

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "prior, frozen, points",
    [
        (priors.Normal(0.5, 2.0), stats.norm(0.5, 2.0), RNG.normal(size=7)),
        (priors.HalfNormal(1.5), stats.halfnorm(scale=1.5), np.abs(RNG.normal(size=7))),
        (priors.Uniform(-20, 20), stats.uniform(-20, 40), RNG.uniform(-19, 19, size=7)),
        (priors.Gamma(2.0, 3.0), stats.gamma(2.0, scale=1 / 3.0), RNG.gamma(2.0, size=7)),
        (priors.Beta(13, 9), stats.beta(13, 9), RNG.uniform(0.01, 0.99, size=7)),
        (priors.Cauchy(0.5, 2.0), stats.cauchy(0.5, 2.0), RNG.normal(size=7)),
        (priors.HalfCauchy(2.5), stats.halfcauchy(scale=2.5), np.abs(RNG.normal(size=7))),
        (priors.StudentT(3.0, 8.0, 10.0), stats.t(3.0, 8.0, 10.0), RNG.normal(8, 10, size=7)),
        (priors.HalfStudentT(3.0, 10.0), None, np.abs(RNG.normal(size=7))),
    ],
)
def test_prior_log_density_matches_scipy(prior, frozen, points):
    if frozen is None:  # half-t: twice the t density on x > 0 (scipy has no half-t)
        expected = np.log(2.0) + stats.t(prior.df, 0.0, prior.scale).logpdf(points)
        np.testing.assert_allclose(prior.log_density(points), expected, rtol=1e-12)
        assert prior.log_density(np.array([-0.1]))[0] == -np.inf
        return
    np.testing.assert_allclose(prior.log_density(points), frozen.logpdf(points), rtol=1e-12)


def test_soft_laplace_is_normalised_and_outside_support_is_minus_infinity():
    grid = np.linspace(-60, 60, 200_001)
    density = np.exp(priors.SoftLaplace(0.3, 1.7).log_density(grid))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, rel=1e-8)
    assert priors.HalfNormal(1.0).log_density(np.array([-0.1]))[0] == -np.inf
    assert priors.Uniform(0, 1).log_density(np.array([1.5]))[0] == -np.inf
    assert np.all(priors.Flat().log_density(np.ones(3)) == 0)


def test_likelihood_families_match_scipy():
    y01 = np.array([0.0, 1.0, 1.0])
    p = np.array([0.2, 0.7, 0.9])
    np.testing.assert_allclose(likelihoods.log_density("bernoulli", {"probs": p}, y01), stats.bernoulli(p).logpmf(y01))
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(
        likelihoods.log_density("bernoulli", {"logits": logits}, y01), stats.bernoulli(p).logpmf(y01), rtol=1e-12
    )
    y = np.array([0.3, 1.2, 4.0])
    np.testing.assert_allclose(
        likelihoods.log_density("normal", {"loc": 1.0, "scale": 0.1}, y), stats.norm(1.0, 0.1).logpdf(y)
    )
    np.testing.assert_allclose(
        likelihoods.log_density("gamma", {"concentration": 2.5, "rate": 1.5}, y),
        stats.gamma(2.5, scale=1 / 1.5).logpdf(y),
    )
    with pytest.raises(ValueError):
        likelihoods.log_density("normal", {"mean": 0.0, "scale": 1.0}, y)


@pytest.mark.parametrize(
    "prior, frozen",
    [
        (priors.Normal(0.5, 2.0), stats.norm(0.5, 2.0)),
        (priors.HalfNormal(1.5), stats.halfnorm(scale=1.5)),
        (priors.Uniform(-20, 20), stats.uniform(-20, 40)),
        (priors.Gamma(2.0, 3.0), stats.gamma(2.0, scale=1 / 3.0)),
        (priors.Beta(13, 9), stats.beta(13, 9)),
        (priors.HalfCauchy(2.5), stats.halfcauchy(scale=2.5)),
        (priors.StudentT(3.0, 8.0, 10.0), stats.t(3.0, 8.0, 10.0)),
        (priors.HalfStudentT(3.0, 10.0), None),
    ],
)
def test_prior_samplers_follow_their_densities(prior, frozen):
    draws = prior.sample(np.random.default_rng(1), (20_000,))
    if frozen is None:  # half-t: |t| has CDF 2 F_t(x) - 1
        assert stats.kstest(draws, lambda x: 2 * stats.t(prior.df, 0, prior.scale).cdf(x) - 1).pvalue > 1e-3
        return
    assert stats.kstest(draws, frozen.cdf).pvalue > 1e-3


def test_soft_laplace_sampler_matches_its_density():
    prior = priors.SoftLaplace(0.3, 1.7)
    draws = prior.sample(np.random.default_rng(2), (20_000,))
    grid = np.linspace(-60, 60, 400_001)
    cdf = np.cumsum(np.exp(prior.log_density(grid))) * (grid[1] - grid[0])
    assert stats.kstest(draws, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3
    assert priors.Flat().sample is None  # improper: samplers fall back to an unconstrained box


def test_flat_positive_is_zero_inside_and_minus_infinity_outside():
    values = priors.FlatPositive().log_density(np.array([0.5, 3.0, -1.0]))
    np.testing.assert_array_equal(values, [0.0, 0.0, -np.inf])
    assert priors.FlatPositive().sample is None and priors.FlatPositive().support.kind == "positive"
