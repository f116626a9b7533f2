"""Translate a problem spec into a native NumPyro model (numpyro.svi and numpyro.nuts use it directly,
BlackJAX through `backends.jax_common.target`)."""

from __future__ import annotations

from collections.abc import Callable

import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.distributions import constraints

from bench.spec import priors
from bench.spec.ops import jax_ops
from bench.spec.problem import Problem

_OPS = None


def _ops():
    global _OPS
    if _OPS is None:
        _OPS = jax_ops()
    return _OPS


def prior_distribution(prior: priors.Prior, shape: tuple[int, ...]) -> dist.Distribution:
    if isinstance(prior, priors.Flat):
        return dist.ImproperUniform(constraints.real, (), event_shape=shape)
    if isinstance(prior, priors.FlatPositive):
        return dist.ImproperUniform(constraints.positive, (), event_shape=shape)
    base = {
        priors.Normal: lambda p: dist.Normal(p.loc, p.scale),
        priors.HalfNormal: lambda p: dist.HalfNormal(p.scale),
        priors.SoftLaplace: lambda p: dist.SoftLaplace(p.loc, p.scale),
        priors.Uniform: lambda p: dist.Uniform(p.low, p.high),
        priors.Gamma: lambda p: dist.Gamma(p.concentration, p.rate),
        priors.Beta: lambda p: dist.Beta(p.a, p.b),
        priors.Cauchy: lambda p: dist.Cauchy(p.loc, p.scale),
        priors.HalfCauchy: lambda p: dist.HalfCauchy(p.scale),
        priors.StudentT: lambda p: dist.StudentT(p.df, p.loc, p.scale),
        # NumPyro has no HalfStudentT: the fold of a centred t is it (log 2 + the t density on x > 0)
        priors.HalfStudentT: lambda p: dist.FoldedDistribution(dist.StudentT(p.df, 0.0, p.scale)),
    }[type(prior)](prior)
    return base.expand(shape).to_event(len(shape)) if shape else base


LIKELIHOODS: dict[str, Callable[..., dist.Distribution]] = {
    "bernoulli": dist.Bernoulli,
    "normal": dist.Normal,
    "gamma": dist.Gamma,
}


def make_model(problem: Problem, batch_size: int = 0) -> Callable:
    """model(x=None, y=None): priors as sample sites, the likelihood in a data plate, potentials as factors.

    With 0 < batch_size < N the plate subsamples the rows and NumPyro scales the likelihood by
    N / batch_size, so each step sees an unbiased estimate of the full-data log joint. The
    training loop passes the rows (`rows=`, drawn i.i.d. like pm.Minibatch): NumPyro's own CPU
    draw is a Fisher-Yates scan that costs more than the step it feeds.
    """
    ops = _ops()

    def model(x=None, y=None, rows=None):
        values = {
            lat.name: numpyro.sample(lat.name, prior_distribution(lat.prior, lat.shape)) for lat in problem.latents
        }
        if problem.likelihood is not None:
            n = y.shape[0]
            subsample = batch_size if 0 < batch_size < n else None
            given = {} if rows is None or subsample is None else {"data": rows}
            with handlers.substitute(data=given), numpyro.plate("data", n, subsample_size=subsample) as idx:
                if subsample is not None:
                    x = None if x is None else x[idx]
                    y = y[idx]
                params = problem.likelihood.params(ops, values, x)
                numpyro.sample("obs", LIKELIHOODS[problem.likelihood.family](**params), obs=y)
        if problem.potential is not None:
            numpyro.factor("potential", problem.potential(ops, values))

    return model


def model_data(problem: Problem, split, dtype) -> dict:
    """The model's keyword arguments for a data split, as device arrays of the run's dtype."""
    import jax
    import numpy as np

    if split is None or problem.likelihood is None:
        return {}
    # cast on the host, then one copy: a device-side cast would compile a conversion per array
    host = {"y": split.y} if split.x is None else {"y": split.y, "x": split.x}
    data = {name: jax.device_put(np.asarray(value, dtype=np.dtype(dtype))) for name, value in host.items()}
    return jax.block_until_ready(data)  # the host-to-device copy is done before any clock starts


def data_device(data: dict) -> str | None:
    """Where the model's data lives ("gpu:0", "cpu:0"): recorded, so a GPU cell shows its data was on the GPU."""
    for array in data.values():
        (device,) = array.devices()
        return f"{device.platform}:{device.id}"
    return None
