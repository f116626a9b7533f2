"""Guides: NumPyro's auto guides and the seeds' hand-written ones.

Custom guides keep the seeds' families and initial values. One change: the coin-flip `normal`
guide is truncated to (0, 1), the prior's support, so that its ELBO is finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer.autoguide import AutoBNAFNormal, AutoIAFNormal, AutoMultivariateNormal, AutoNormal

from backends.numpyro import SVISettings


def exp_normal(x=None, y=None):
    """Gamma seed: a Normal pushed through exp, so the concentration stays positive."""
    loc = numpyro.param("concentration_loc", 0.5)
    scale = numpyro.param("concentration_scale", 0.1, constraint=constraints.positive)
    base = dist.Normal(loc, scale)
    numpyro.sample("concentration", dist.TransformedDistribution(base, dist.transforms.ExpTransform()))


def beta(x=None, y=None):
    """Coin-flip seed: the conjugate family, so the exact posterior is reachable."""
    a = numpyro.param("alpha_q", 10.0, constraint=constraints.positive)
    b = numpyro.param("beta_q", 10.0, constraint=constraints.positive)
    numpyro.sample("f", dist.Beta(a, b))


def normal(x=None, y=None):
    """Coin-flip seed's Normal guide, truncated to the prior's support (0, 1)."""
    mean = numpyro.param("mean", 0.5, constraint=constraints.unit_interval)
    sd = numpyro.param("sd", 0.1, constraint=constraints.positive)
    numpyro.sample("f", dist.TruncatedNormal(mean, sd, low=0.0, high=1.0))


def mixture(x=None, y=None):
    """Bimodal seed: two equal Gaussian modes along a rotated axis, a Gaussian across it."""
    sig1 = numpyro.param("sig1_q", 1.0, constraint=constraints.positive)
    sig2 = numpyro.param("sig2_q", 1.0, constraint=constraints.positive)
    separation = numpyro.param("b", 1.0, constraint=constraints.positive)
    theta = numpyro.param("theta", 0.0, constraint=constraints.interval(-math.pi / 2, math.pi / 2))
    modes = dist.MixtureGeneral(
        dist.Categorical(jnp.array([0.5, 0.5])),
        [dist.Normal(separation, sig1), dist.Normal(-separation, sig1)],
    )
    u1 = numpyro.sample("u1", modes, infer={"is_auxiliary": True})
    u2 = numpyro.sample("u2", dist.Normal(0.0, sig2), infer={"is_auxiliary": True})
    c, s = jnp.cos(theta), jnp.sin(theta)
    # A rotation has unit Jacobian, so log q(x, y) = log q(u1) + log q(u2).
    numpyro.sample("x", dist.Delta(c * u1 - s * u2))
    numpyro.sample("y", dist.Delta(c * u2 + s * u1))


CUSTOM: dict[str, Callable] = {"exp_normal": exp_normal, "beta": beta, "normal": normal, "mixture": mixture}


def make_guide(name: str, model: Callable, settings: SVISettings) -> Callable:
    if name == "auto_normal":
        return AutoNormal(model, init_scale=settings.init_scale)
    if name == "auto_mvn":
        return AutoMultivariateNormal(model, init_scale=settings.init_scale)
    if name == "auto_iaf":  # depth and width: backends.numpyro.FLOW_DEFAULTS
        return AutoIAFNormal(model, num_flows=settings.flow_depth, hidden_dims=[settings.flow_hidden] * 2)
    if name == "auto_bnaf":
        return AutoBNAFNormal(model, num_flows=settings.flow_depth, hidden_factors=[settings.flow_hidden] * 2)
    return CUSTOM[name]
