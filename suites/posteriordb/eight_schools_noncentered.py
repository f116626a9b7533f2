"""Eight schools, non-centred (posteriordb eight_schools-eight_schools_noncentered).

theta_trans ~ N(0, 1), mu ~ N(0, 5), tau ~ HalfCauchy(5); y_j ~ N(mu + tau * theta_trans_j, sigma_j).
posteriordb stores the transformed parameter theta = mu + tau * theta_trans (with mu, tau), not
theta_trans: theta is a derived quantity, computed from every method's latent draws and scored.
The design is a one-hot school indicator, so loc = onehot @ theta row by row (minibatch-safe);
the known sigma_j rides in the last input column.
"""

from __future__ import annotations

import numpy as np

from bench.spec.priors import HalfCauchy, Normal
from bench.spec.problem import Latent
from suites.posteriordb.archive import column
from suites.posteriordb.declare import declare

J = 8


def make_xy(data):
    sigma = column(data, "sigma")
    return np.column_stack([np.eye(data["J"]), sigma]), column(data, "y")


def loc(ops, v, x):
    theta = v["mu"] + v["tau"] * v["theta_trans"]
    return ops.matmul(x[:, :J], theta)


def scale_from_x(ops, v, x):
    return x[:, J]


def derived(v):
    return {"theta": v["mu"][..., None] + v["tau"][..., None] * v["theta_trans"]}


PROBLEM = declare(
    "eight_schools_noncentered",
    "eight_schools-eight_schools_noncentered",
    "eight schools, non-centred: theta = mu + tau * theta_trans, tau ~ HalfCauchy(5); scored on theta, mu, tau",
    (Latent("theta_trans", Normal(0.0, 1.0), (J,)), Latent("mu", Normal(0.0, 5.0)), Latent("tau", HalfCauchy(5.0))),
    make_xy,
    loc,
    scale=scale_from_x,
    derived=derived,
    derived_shapes={"theta": (J,)},
    scored=("theta", "mu", "tau"),
)
