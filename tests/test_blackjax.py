"""BlackJAX backend: its JAX log density agrees with the spec; VI and Pathfinder recover or run."""

import numpy as np
import pytest
from scipy import special

import suites
from bench import scoring
from tests.conftest import assert_recovers_coinflip, fit_method, requires_blackjax

pytestmark = requires_blackjax


def numpy_log_jacobian(problem, z: np.ndarray) -> float:
    """log|dT/dz| written independently of NumPyro: identity, exp, or a scaled sigmoid per latent."""
    total, start = 0.0, 0
    for latent in problem.latents:
        block = z[start : start + latent.size]
        start += latent.size
        support = latent.prior.support
        if support.kind == "positive":
            total += block.sum()
        elif support.kind == "interval":
            total += np.sum(np.log(support.high - support.low) + special.log_expit(block) + special.log_expit(-block))
    return total


@pytest.mark.parametrize("name", suites.problem_names())
def test_jax_log_density_agrees_with_spec(name):
    import jax
    import jax.numpy as jnp

    from backends.jax_common.target import JaxTarget

    problem = suites.get_problem(name)
    data = problem.make_data(0)
    rng = np.random.default_rng(7)
    with jax.enable_x64(True):
        target = JaxTarget(problem, data.train, jnp.float64)
        for _ in range(3):  # unconstrained: log joint at T(z) plus the transforms' Jacobian
            z = rng.normal(0.0, 1.0, size=target.dim)
            values = {k: np.asarray(v) for k, v in target.constrain(jnp.asarray(z)).items()}
            expected = problem.log_joint(values, data) + numpy_log_jacobian(problem, z)
            assert float(target.logdensity(jnp.asarray(z))) == pytest.approx(expected, rel=1e-6, abs=1e-9)
        for _ in range(3):  # constrained, no Jacobian
            point = problem.random_point(rng)
            native = target.log_joint_constrained({k: jnp.asarray(v) for k, v in point.items()})
            assert float(native) == pytest.approx(problem.log_joint(point, data), rel=1e-6, abs=1e-9)


def fit(problem_name, method_name, overrides=None, draws=4000):
    return fit_method(method_name, problem_name, "", overrides, draws=draws)


@pytest.mark.slow
def test_meanfield_vi_recovers_the_coinflip_mean():
    problem, data, result = fit("coinflip", "blackjax.meanfield_vi")
    assert_recovers_coinflip(problem, data, result)


@pytest.mark.parametrize("name", ["banana", pytest.param("moons", marks=pytest.mark.heavy), "gamma"])
def test_pathfinder_returns_finite_draws(name):
    problem, data, result = fit(name, "blackjax.pathfinder", draws=500)
    assert all(np.all(np.isfinite(v)) for v in result.draws.values())
    assert np.all(np.isfinite(result.log_q)) and result.steps > 0
    assert 0 < len(result.losses) <= result.steps + 1 and np.all(np.isfinite(result.losses))


@pytest.mark.slow
def test_blackjax_nuts_matches_banana_moments():
    problem, data, result = fit("banana", "blackjax.nuts", {"draws": "2000", "target_accept": "0.95"})
    assert result.chains == 4 and len(result.draws["x"]) == 8000
    metrics = scoring.score(problem, data, result, problem.reference(data), 0)["metrics"]
    assert metrics["r_hat_max"] < 1.02 and metrics["ess_bulk_min"] > 400
    assert metrics["std_mean_err_max"] < 0.15 and 0.85 < metrics["sd_ratio_min"] <= metrics["sd_ratio_max"] < 1.15


def test_rmh_runs_chains_with_metrics():
    problem, data, result = fit("gaussian2d", "blackjax.rmh", {"warmup": "500", "draws": "500", "thin": "2"})
    metrics = scoring.score(problem, data, result, problem.reference(data), 0)["metrics"]
    assert 0.1 < metrics["acceptance_rate"] < 0.4
    assert metrics["ess_bulk_min"] > 50 and "divergences" not in metrics


def test_fullrank_log_q_is_exact_and_a_float32_collapse_is_diverged():
    """Full-rank draws are BlackJAX's own, their log q is the exact one from eps, and an
    ill-conditioned float32 scale (diamonds reached 1e9) raises instead of scoring a 1e13 ELBO."""
    import blackjax
    import jax
    import jax.numpy as jnp
    import optax
    from scipy import stats

    from backends.blackjax.vi import fullrank_draws

    vi = blackjax.fullrank_vi(lambda z: -0.5 * jnp.sum(z**2), optax.adam(0.01))
    dim, key = 3, jax.random.PRNGKey(0)
    healthy = vi.init(jnp.zeros(dim, dtype=jnp.float32))._replace(
        mu=jnp.array([8.0, -1.0, 0.5], dtype=jnp.float32),
        chol_params=jnp.array([0.2, -1.0, 0.1, 0.5, -0.3, 0.8], dtype=jnp.float32),
    )
    z, log_q = fullrank_draws(vi, healthy, key, 500)
    np.testing.assert_array_equal(z, vi.sample(key, healthy, 500))
    chol = np.diag(np.exp([0.2, -1.0, 0.1])) + np.tril(np.zeros((3, 3)))
    chol[np.tril_indices(3, -1)] = [0.5, -0.3, 0.8]
    exact = stats.multivariate_normal([8.0, -1.0, 0.5], chol @ chol.T).logpdf(np.asarray(z, dtype=np.float64))
    np.testing.assert_allclose(log_q, exact, atol=1e-3)
    collapsed = healthy._replace(chol_params=jnp.array([-6.0, -6.0, -6.0, 3e3, 3e3, 3e3], dtype=jnp.float32))
    with pytest.raises(FloatingPointError, match="lost precision"):
        fullrank_draws(vi, collapsed, key, 500)
