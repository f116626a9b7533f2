"""Two-mode, Cauchy-tailed density (SVI part 1 seed) on the box [-20, 20]^2.

Along u1 = (x + y)/sqrt2 two Gaussian bumps at +-5 with sd 0.5; along u2 = (x - y)/sqrt2 a
Cauchy-like factor 1 / (1 + (u2 / 2)^2 / 2).
"""

from __future__ import annotations

import dataclasses

import math
from functools import cache


from bench.spec.ops import NUMPY
from bench.spec.priors import Uniform
from bench.spec.problem import Dataset, Latent, Problem, Recipe
from bench.spec.references import Reference, quadrature_2d

SIG_1, SIG_2, SEPARATION, BOX = 0.5, 2.0, 5.0, 20.0
_SQRT2 = math.sqrt(2.0)


def potential(ops, v):
    x, y = v["x"], v["y"]
    u1 = (x + y) / _SQRT2
    u2 = (x - y) / _SQRT2
    modes = ops.logaddexp(-0.5 * ops.square((u1 - SEPARATION) / SIG_1), -0.5 * ops.square((u1 + SEPARATION) / SIG_1))
    return modes - ops.log1p(ops.square(u2 / SIG_2) / 2.0)


def make_data(seed: int) -> Dataset:
    return Dataset()


@cache
def reference_for_box() -> Reference:
    return quadrature_2d(("x", "y"), lambda x, y: potential(NUMPY, {"x": x, "y": y}), (-BOX, BOX))


def reference(data: Dataset) -> Reference:
    # the quadrature integrates the potential; the spec adds the two uniform priors' log densities
    box = reference_for_box()
    return dataclasses.replace(box, log_evidence=box.log_evidence - 2.0 * math.log(2.0 * BOX))


PROBLEM = Problem(
    name="bimodal",
    suite="toy",
    description="two Gaussian modes along one diagonal, Cauchy tails along the other; x, y ~ U(-20, 20)",
    latents=(Latent("x", Uniform(-BOX, BOX)), Latent("y", Uniform(-BOX, BOX))),
    task="density",
    make_data=make_data,
    reference=reference,
    potential=potential,
    recipe=Recipe(steps=10_000, learning_rate=0.0005, particles=16, guides=("mixture",)),
    config={"sig": (SIG_1, SIG_2), "separation": SEPARATION, "box": BOX},
)
