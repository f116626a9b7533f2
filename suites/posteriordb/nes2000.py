"""Party identification, NES 2000 (posteriordb nes2000-nes, Gelman & Hill; the Pathfinder paper's).

partyid7 ~ N(beta1 + beta2 real_ideo + beta3 race_adj + beta4..6 age dummies (levels 2, 3, 4 of
age_discrete) + beta7 educ1 + beta8 gender + beta9 income, sigma); beta, sigma > 0 flat.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import Flat, FlatPositive
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare, intercept_design, linear


def make_xy(data):
    age = np.asarray(data["age_discrete"])
    dummies = [(age == level).astype(np.float64) for level in (2, 3, 4)]
    x = intercept_design(
        column(data, "real_ideo"),
        column(data, "race_adj"),
        *dummies,
        column(data, "educ1"),
        column(data, "gender"),
        column(data, "income"),
    )
    return x, column(data, "partyid7")


PROBLEM = declare(
    "nes2000",
    "nes2000-nes",
    "party identification on ideology, race, age dummies, education, gender, income, N = 476: beta, sigma flat",
    (Latent("beta", Flat(), (9,)), Latent("sigma", FlatPositive())),
    make_xy,
    linear,
)
