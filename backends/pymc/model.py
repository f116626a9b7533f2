"""Translate a problem spec into a native PyMC model.

Priors become PyMC random variables (SoftLaplace through `pm.CustomDist` with its log density and
an inverse-CDF sampler), the likelihood an observed variable with `total_size`, potentials
`pm.Potential`, and the data `pm.Data`, so `pm.set_data` swaps in test inputs. With a batch
size, `pm.Minibatch` draws inputs and outputs together and `total_size` rescales the likelihood.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bench.spec import priors
from bench.spec.ops import pytensor_ops
from bench.spec.problem import Problem, Split

LOG_2_OVER_PI = math.log(2.0 / math.pi)


def soft_laplace_logp(value, loc, scale):
    z = (value - loc) / scale
    return LOG_2_OVER_PI - pt.log(scale) - pt.logaddexp(z, -z)


def soft_laplace_random(loc, scale, rng=None, size=None):
    """Inverse CDF: F(x) = (2 / pi) arctan(exp(z)), so z = log(tan(pi u / 2))."""
    u = rng.uniform(size=size)
    return loc + scale * np.log(np.tan(0.5 * np.pi * u))


def prior_variable(name: str, prior: priors.Prior, shape: tuple[int, ...], transform: bool):
    """A PyMC random variable for a spec prior; transform=False keeps the constrained value variable."""
    kwargs = {"shape": shape}
    if not transform:
        kwargs["default_transform"] = None
    if isinstance(prior, priors.Flat):
        return pm.Flat(name, **kwargs)
    if isinstance(prior, priors.Normal):
        return pm.Normal(name, prior.loc, prior.scale, **kwargs)
    if isinstance(prior, priors.HalfNormal):
        return pm.HalfNormal(name, prior.scale, **kwargs)
    if isinstance(prior, priors.SoftLaplace):
        return pm.CustomDist(name, prior.loc, prior.scale, logp=soft_laplace_logp, random=soft_laplace_random, **kwargs)
    if isinstance(prior, priors.Uniform):
        return pm.Uniform(name, prior.low, prior.high, **kwargs)
    if isinstance(prior, priors.Gamma):
        return pm.Gamma(name, alpha=prior.concentration, beta=prior.rate, **kwargs)
    if isinstance(prior, priors.Beta):
        return pm.Beta(name, prior.a, prior.b, **kwargs)
    if isinstance(prior, priors.FlatPositive):
        return pm.HalfFlat(name, **kwargs)
    if isinstance(prior, priors.Cauchy):
        return pm.Cauchy(name, alpha=prior.loc, beta=prior.scale, **kwargs)
    if isinstance(prior, priors.HalfCauchy):
        return pm.HalfCauchy(name, beta=prior.scale, **kwargs)
    if isinstance(prior, priors.StudentT):
        return pm.StudentT(name, nu=prior.df, mu=prior.loc, sigma=prior.scale, **kwargs)
    if isinstance(prior, priors.HalfStudentT):
        return pm.HalfStudentT(name, nu=prior.df, sigma=prior.scale, **kwargs)
    raise TypeError(f"no PyMC translation for prior {prior!r}")


def observed_variable(family: str, params: dict, observed, total_size: int):
    if family == "bernoulli":
        if "logits" in params:
            return pm.Bernoulli("obs", logit_p=params["logits"], observed=observed, total_size=total_size)
        return pm.Bernoulli("obs", p=params["probs"], observed=observed, total_size=total_size)
    if family == "normal":
        return pm.Normal("obs", mu=params["loc"], sigma=params["scale"], observed=observed, total_size=total_size)
    if family == "gamma":
        return pm.Gamma(
            "obs", alpha=params["concentration"], beta=params["rate"], observed=observed, total_size=total_size
        )
    raise TypeError(f"no PyMC translation for likelihood {family!r}")


def make_model(
    problem: Problem, split: Split | None, batch_size: int = 0, transform: bool = True, seed: int = 0
) -> pm.Model:
    ops = pytensor_ops()
    with pm.Model() as model:
        values = {lat.name: prior_variable(lat.name, lat.prior, lat.shape, transform) for lat in problem.latents}
        if problem.likelihood is not None and split is not None:
            x = None if split.x is None else pm.Data("x", np.asarray(split.x, dtype=pm.floatX(np.zeros(0)).dtype))
            y = pm.Data("y", np.asarray(split.y, dtype=pm.floatX(np.zeros(0)).dtype))
            n = len(split)
            if 0 < batch_size < n:
                if x is None:
                    y = pm.Minibatch(y, batch_size=batch_size)
                else:
                    x, y = pm.Minibatch(x, y, batch_size=batch_size)  # the same rows of inputs and outputs
            params = problem.likelihood.params(ops, values, x)
            observed_variable(problem.likelihood.family, params, y, total_size=n)
        if problem.potential is not None:
            pm.Potential("potential", problem.potential(ops, values))
    return model
