"""A radon-style varying-intercept model written in PyMC, on data generated here (a model problem).

log radon of house i in county j[i]: y_i ~ N(a_j + b * floor_i, sigma), a_j ~ N(mu_a, sigma_a),
mu_a ~ N(0, 5), sigma_a ~ HalfNormal(1), b ~ N(0, 2), sigma ~ HalfNormal(1); 12 counties, 3 to 25
houses each. No reference draws are given: `bench reference build --problems radon_intercepts` makes
a NUTS reference (4 x 2,500 draws, gated) from the model's own JAX log density.
"""

from __future__ import annotations

import numpy as np

from bench.spec.models import ModelProblem
from bench.spec.problem import Recipe

COUNTIES = 12


def _data() -> dict:
    rng = np.random.default_rng(2026)
    houses = rng.integers(3, 26, size=COUNTIES)
    county = np.repeat(np.arange(COUNTIES), houses)
    floor = rng.integers(0, 2, size=len(county)).astype(float)
    a = rng.normal(1.5, 0.4, size=COUNTIES)
    y = a[county] - 0.6 * floor + rng.normal(0.0, 0.7, size=len(county))
    return {"county": county, "floor": floor, "y": np.round(y, 4), "counties": COUNTIES}


def radon(data):
    import pymc as pm

    with pm.Model() as model:
        mu_a = pm.Normal("mu_a", 0.0, 5.0)
        sigma_a = pm.HalfNormal("sigma_a", 1.0)
        a = pm.Normal("a", mu_a, sigma_a, shape=data["counties"])
        b = pm.Normal("b", 0.0, 2.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", a[data["county"]] + b * data["floor"], sigma, observed=data["y"])
    return model


PROBLEM = ModelProblem(
    "radon_intercepts",
    "pymc",
    radon,
    _data(),
    suite="radon",
    description="radon-style varying intercepts (PyMC): 12 counties, a_j ~ N(mu_a, sigma_a), floor effect b",
    recipe=Recipe(steps=5000, learning_rate=0.01, particles=4),
)
