"""Mesquite bushes (posteriordb mesquite-logmesquite_logvas, Gelman & Hill): log weight, N = 46.

log(weight) ~ N(beta1 + beta2 log(d1 d2 h) + beta3 log(d1 d2) + beta4 log(d1 / d2)
+ beta5 log(total_height) + beta6 log(density) + beta7 group, sigma); beta, sigma > 0 flat.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import Flat, FlatPositive
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare, intercept_design, linear


def make_xy(data):
    d1, d2, h = column(data, "diam1"), column(data, "diam2"), column(data, "canopy_height")
    x = intercept_design(
        np.log(d1 * d2 * h),
        np.log(d1 * d2),
        np.log(d1 / d2),
        np.log(column(data, "total_height")),
        np.log(column(data, "density")),
        column(data, "group"),
    )
    return x, np.log(column(data, "weight"))


PROBLEM = declare(
    "mesquite_logvas",
    "mesquite-logmesquite_logvas",
    "log mesquite weight on log volume, area, shape, height, density and group, N = 46: beta, sigma flat",
    (Latent("beta", Flat(), (7,)), Latent("sigma", FlatPositive())),
    make_xy,
    linear,
)
