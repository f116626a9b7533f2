"""Log earnings on z-scored height x male (posteriordb earnings-logearn_interaction_z, Gelman & Hill).

log(earn) ~ N(beta1 + beta2 z + beta3 male + beta4 z * male, sigma), z = (height - mean) / sd with
Stan's sd (N - 1); beta and sigma > 0 flat (improper). Standardised: well conditioned.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import Flat, FlatPositive
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare, intercept_design, linear


def make_xy(data):
    height, male = column(data, "height"), column(data, "male")
    z = (height - height.mean()) / np.std(height, ddof=1)
    return intercept_design(z, male, z * male), np.log(column(data, "earn"))


PROBLEM = declare(
    "earnings_interaction_z",
    "earnings-logearn_interaction_z",
    "log earnings on z(height), male and their interaction, N = 1192: beta, sigma flat",
    (Latent("beta", Flat(), (4,)), Latent("sigma", FlatPositive())),
    make_xy,
    linear,
)
