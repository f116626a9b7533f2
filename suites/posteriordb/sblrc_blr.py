"""Bayesian linear regression on synthetic correlated predictors (posteriordb sblrc-blr).

beta ~ N(0, 10), sigma ~ HalfNormal(10) (Stan's normal_lpdf on sigma > 0, normalised here);
y ~ N(X beta, sigma), no intercept. Predictors have sd ~ 200: beta's sd is ~80x below sigma's.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import HalfNormal, Normal
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare, linear


def make_xy(data):
    return np.asarray(data["X"], dtype=np.float64), column(data, "y")


PROBLEM = declare(
    "sblrc_blr",
    "sblrc-blr",
    "linear regression, N = 100, 5 correlated predictors: beta ~ N(0, 10), sigma ~ HalfNormal(10)",
    (Latent("beta", Normal(0.0, 10.0), (5,)), Latent("sigma", HalfNormal(10.0))),
    make_xy,
    linear,
)
