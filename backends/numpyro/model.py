"""Translate a problem spec into a native NumPyro model."""

from __future__ import annotations

from collections.abc import Callable

import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bench import priors
from bench.ops import jax_ops
from bench.problem import Problem

_OPS = None


def _ops():
    global _OPS
    if _OPS is None:
        _OPS = jax_ops()
    return _OPS


def prior_distribution(prior: priors.Prior, shape: tuple[int, ...]) -> dist.Distribution:
    if isinstance(prior, priors.Flat):
        return dist.ImproperUniform(constraints.real, (), event_shape=shape)
    base = {
        priors.Normal: lambda p: dist.Normal(p.loc, p.scale),
        priors.HalfNormal: lambda p: dist.HalfNormal(p.scale),
        priors.SoftLaplace: lambda p: dist.SoftLaplace(p.loc, p.scale),
        priors.Uniform: lambda p: dist.Uniform(p.low, p.high),
        priors.Gamma: lambda p: dist.Gamma(p.concentration, p.rate),
        priors.Beta: lambda p: dist.Beta(p.a, p.b),
    }[type(prior)](prior)
    return base.expand(shape).to_event(len(shape)) if shape else base


LIKELIHOODS: dict[str, Callable[..., dist.Distribution]] = {
    "bernoulli": dist.Bernoulli,
    "normal": dist.Normal,
    "gamma": dist.Gamma,
}


def make_model(problem: Problem) -> Callable:
    """model(x=None, y=None): priors as sample sites, the likelihood in a data plate, potentials as factors."""
    ops = _ops()

    def model(x=None, y=None):
        values = {lat.name: numpyro.sample(lat.name, prior_distribution(lat.prior, lat.shape)) for lat in problem.latents}
        if problem.likelihood is not None:
            params = problem.likelihood.params(ops, values, x)
            with numpyro.plate("data", y.shape[0]):
                numpyro.sample("obs", LIKELIHOODS[problem.likelihood.family](**params), obs=y)
        if problem.potential is not None:
            numpyro.factor("potential", problem.potential(ops, values))

    return model


def model_data(problem: Problem, split, dtype) -> dict:
    """The model's keyword arguments for a data split, as device arrays of the run's dtype."""
    import jax.numpy as jnp

    if split is None or problem.likelihood is None:
        return {}
    data = {"y": jnp.asarray(split.y, dtype=dtype)}
    if split.x is not None:
        data["x"] = jnp.asarray(split.x, dtype=dtype)
    return data
