"""Correlated 2-D Gaussian (SVI part 1 seed): sds 1 and 3 on axes rotated by 45 degrees."""

from __future__ import annotations

import math

import numpy as np

from bench.spec.priors import Flat
from bench.spec.problem import Dataset, Latent, Problem, Recipe
from bench.spec.references import Reference

SD_1, SD_2, ANGLE = 1.0, 3.0, math.pi / 4
_C, _S = math.cos(ANGLE), math.sin(ANGLE)


def potential(ops, v):
    x, y = v["x"], v["y"]
    return -0.5 * (ops.square((_C * x - _S * y) / SD_1) + ops.square((_S * x + _C * y) / SD_2))


def make_data(seed: int) -> Dataset:
    return Dataset()


def covariance() -> np.ndarray:
    rotation = np.array([[_C, -_S], [_S, _C]])  # rows: the two principal axes in (x, y)
    precision = rotation.T @ np.diag([SD_1**-2, SD_2**-2]) @ rotation
    return np.linalg.inv(precision)  # [[5, 4], [4, 5]]


def reference(data: Dataset) -> Reference:
    cov = covariance()
    sd = np.sqrt(np.diag(cov))

    def sampler(rng, n):
        xy = rng.multivariate_normal(np.zeros(2), cov, size=n)
        return {"x": xy[:, 0], "y": xy[:, 1]}

    return Reference(
        "analytic",
        {"x": np.array(0.0), "y": np.array(0.0)},
        {"x": np.array(sd[0]), "y": np.array(sd[1])},
        sampler,
        {"method": "closed form: N(0, [[5, 4], [4, 5]])", "covariance": cov.tolist()},
        log_evidence=math.log(2.0 * math.pi * SD_1 * SD_2),  # the potential is an unnormalised Gaussian
    )


PROBLEM = Problem(
    name="gaussian2d",
    suite="toy",
    description="2-D Gaussian, sd 1 and 3 along axes rotated 45 degrees",
    latents=(Latent("x", Flat()), Latent("y", Flat())),
    task="density",
    make_data=make_data,
    reference=reference,
    potential=potential,
    recipe=Recipe(steps=50_000, learning_rate=0.0005, particles=1),
    config={"sd": (SD_1, SD_2), "angle": ANGLE},
)
