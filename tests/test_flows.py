"""Normalising-flow VI baselines: NumPyro's IAF and BNAF guides (numpyro.svi) and flowjax.flow_vi run
on tiny budgets, and the log q the harness scores them with is the flow's own density at its draws
(less the constraining transform's log-Jacobian, computed here independently)."""

import numpy as np
import pytest

from bench import scoring
from bench.spec.errors import Unsupported
from tests.conftest import HAS_NUMPYRO, fit_method, requires_numpyro

HAS_FLOWJAX = HAS_NUMPYRO and __import__("importlib.util").util.find_spec("flowjax") is not None
requires_flowjax = pytest.mark.skipif(
    not HAS_FLOWJAX, reason="flowjax extra not installed: pip install 'bench[flowjax]'"
)
FLOW_GUIDES = ("auto_iaf", "auto_bnaf")


def _runs(problem_name, method, variant=""):
    problem, data, fit = fit_method(method, problem_name, variant, {"steps": "10"}, draws=200)
    elbo = scoring.elbo_metrics(problem, data, fit)["elbo"]
    assert np.isfinite(elbo) and np.all(np.isfinite(fit.log_q)) and fit.steps == 10 and fit.grad_evals >= 10
    assert [c.step for c in fit.checkpoints] == list(range(1, 11))  # the dense schedule: every step of ten
    return problem, fit


@requires_numpyro
@pytest.mark.parametrize("guide", FLOW_GUIDES)
def test_numpyro_flow_guides_run_on_banana_and_refuse_one_dimensional_gamma(guide):
    import backends
    import suites

    _runs("banana", "numpyro.svi", guide)
    with pytest.raises(Unsupported, match="2 or more latent dimensions, and gamma has 1"):
        fit_method("numpyro.svi", "gamma", guide, {"steps": "10"}, draws=200)
    assert guide not in backends.get_method("numpyro.svi").variants(suites.get_problem("gamma"))
    assert guide in backends.get_method("numpyro.svi").variants(suites.get_problem("banana"))


@requires_numpyro
def test_numpyro_flow_log_q_is_the_guides_own_density():
    """On bimodal, whose latents live on (-20, 20): the harness's log q of constrained draws (the path
    every guide's log q takes) equals the IAF's log density of their unconstrained values less the
    interval transform's log-Jacobian. (The BNAF has no inverse to evaluate its density at a point.)"""
    guide = "auto_iaf"
    import jax
    import jax.numpy as jnp
    from numpyro.distributions import biject_to, constraints

    import backends
    import suites
    from backends.jax_common.model import model_data
    from backends.numpyro.svi import build_svi, guide_sampler
    from bench.spec.methods import resolve_settings

    problem = suites.get_problem("bimodal")
    method = backends.get_method("numpyro.svi")
    settings = method.make_settings(resolve_settings(method, problem, guide, {}))
    svi, flow_guide = build_svi(problem, settings)
    train = model_data(problem, problem.make_data(0).train, jnp.float32)
    state = svi.init(jax.random.PRNGKey(3), **train)
    for _ in range(3):  # away from the initialisation
        state, _ = jax.jit(svi.update)(state, **train)
    params = svi.get_params(state)
    draws, log_q = guide_sampler(flow_guide, train, ["x", "y"])(params, 0, 5)
    interval = biject_to(constraints.interval(-20.0, 20.0))
    z = jnp.stack([interval.inv(jnp.asarray(draws["x"])), interval.inv(jnp.asarray(draws["y"]))], axis=-1)
    own = flow_guide.get_posterior(params).log_prob(z) - interval.log_abs_det_jacobian(z, interval(z)).sum(-1)
    np.testing.assert_allclose(log_q, own, rtol=1e-4, atol=1e-3)


@requires_flowjax
def test_flowjax_flow_vi_runs_on_gamma_and_banana():
    _runs("gamma", "flowjax.flow_vi")
    _runs("banana", "flowjax.flow_vi")


@requires_flowjax
def test_flowjax_log_q_is_the_flows_own_density():
    """On gamma (concentration > 0, mapped by exp): log q(c) = log q_flow(log c) - log c."""
    import jax
    import jax.numpy as jnp
    import paramax

    import backends
    import suites
    from backends.flowjax.vi import constrained_draws, make_flow, sampler, split
    from backends.jax_common.target import JaxTarget
    from bench.spec.methods import resolve_settings

    problem = suites.get_problem("gamma")
    method = backends.get_method("flowjax.flow_vi")
    settings = method.make_settings(resolve_settings(method, problem, "", {}))
    target = JaxTarget(problem, problem.make_data(0).train, jnp.float32)
    flow = make_flow(settings, target.dim, jnp.float32, jax.random.key(1))
    params, static = split(flow)
    draws, log_q = constrained_draws(target, sampler(static, jax.random.key(2), 5), params)
    c = jnp.asarray(draws["concentration"]).reshape(5, 1)
    own = paramax.unwrap(flow).log_prob(jnp.log(c)) - jnp.log(c[:, 0])
    np.testing.assert_allclose(log_q, own, rtol=1e-4, atol=1e-3)
