"""Banana target (Bayesian inference seed): log p = -(x^2/9 + (y - 0.1 x^2)^2) / 2."""

from __future__ import annotations

import math

import numpy as np

from bench.spec.priors import Flat
from bench.spec.problem import Dataset, Latent, Problem, Recipe
from bench.spec.references import Reference

CURVATURE = 0.1
X_SD = 3.0


def potential(ops, v):
    x, y = v["x"], v["y"]
    return -0.5 * (ops.square(x) / X_SD**2 + ops.square(y - CURVATURE * ops.square(x)))


def make_data(seed: int) -> Dataset:
    return Dataset()


def reference(data: Dataset) -> Reference:
    # x ~ N(0, 9) and y | x ~ N(0.1 x^2, 1): E[y] = 0.1 E[x^2], Var[y] = 1 + 0.01 Var[x^2] = 1 + 0.02 * 81.
    mean_y = CURVATURE * X_SD**2
    sd_y = np.sqrt(1.0 + CURVATURE**2 * 2.0 * X_SD**4)

    def sampler(rng, n):
        x = rng.normal(0.0, X_SD, size=n)
        return {"x": x, "y": CURVATURE * x**2 + rng.normal(size=n)}

    return Reference(
        "analytic",
        {"x": np.array(0.0), "y": np.array(mean_y)},
        {"x": np.array(X_SD), "y": np.array(sd_y)},
        sampler,
        {"method": "closed form: x ~ N(0, 3^2), y | x ~ N(0.1 x^2, 1)"},
        log_evidence=math.log(2.0 * math.pi * X_SD),  # unnormalised N(0, 9) times N(0.1 x^2, 1)
    )


PROBLEM = Problem(
    name="banana",
    suite="toy",
    description="banana-shaped 2-D density, x ~ N(0, 9), y | x ~ N(0.1 x^2, 1)",
    latents=(Latent("x", Flat()), Latent("y", Flat())),
    task="density",
    make_data=make_data,
    reference=reference,
    potential=potential,
    recipe=Recipe(steps=5000, learning_rate=0.01, particles=4),
    config={"curvature": CURVATURE, "x_sd": X_SD},
)
