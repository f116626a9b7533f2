"""Diamonds (posteriordb diamonds-diamonds, brms): log price on 24 centred polynomial/dummy predictors.

b ~ N(0, 1), Intercept ~ StudentT(3, 8, 10), sigma ~ HalfStudentT(3, 10) (Stan's student_t minus
its lccdf at 0: the normalised half-t, exactly); Y ~ N(Intercept + Xc b, sigma). Transformed data:
drop X's first column (ones) and centre the other 24 (Intercept is the centred design's). The
N(0, 1) prior on b matters: the posterior is the ridge solution, not OLS.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import HalfStudentT, Normal, StudentT
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare

KC = 24


def make_xy(data):
    x = np.asarray(data["X"], dtype=np.float64)[:, 1:]
    return x - x.mean(axis=0), column(data, "Y")


def loc(ops, v, x):
    return v["Intercept"] + ops.matmul(x, v["b"])


PROBLEM = declare(
    "diamonds",
    "diamonds-diamonds",
    "diamonds, N = 5000, 24 centred predictors: b ~ N(0, 1), Intercept ~ t3(8, 10), sigma ~ half-t3(10)",
    (
        Latent("b", Normal(0.0, 1.0), (KC,)),
        Latent("Intercept", StudentT(3.0, 8.0, 10.0)),
        Latent("sigma", HalfStudentT(3.0, 10.0)),
    ),
    make_xy,
    loc,
)
