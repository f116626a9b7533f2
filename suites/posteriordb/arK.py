"""AR(5) (posteriordb arK-arK): y_t ~ N(alpha + sum_k beta_k y_{t-k}, sigma) for t = K+1..T.

alpha, beta ~ N(0, 10), sigma ~ HalfCauchy(2.5). The transformed data are the lag design: row t
holds y_{t-1}, ..., y_{t-K} (Stan's loop over t in K+1..T, 195 terms for T = 200).
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import HalfCauchy, Normal
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare


def make_xy(data):
    y, k, t = column(data, "y"), data["K"], data["T"]
    lags = np.column_stack([y[k - j : t - j] for j in range(1, k + 1)])  # column j-1: y[t - j]
    return lags, y[k:]


def loc(ops, v, x):
    return v["alpha"] + ops.matmul(x, v["beta"])


PROBLEM = declare(
    "arK",
    "arK-arK",
    "AR(5) on 200 points: alpha, beta ~ N(0, 10), sigma ~ HalfCauchy(2.5)",
    (Latent("alpha", Normal(0.0, 10.0)), Latent("beta", Normal(0.0, 10.0), (5,)), Latent("sigma", HalfCauchy(2.5))),
    make_xy,
    loc,
)
