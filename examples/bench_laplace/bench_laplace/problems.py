"""The plugin's problems: a coin with a Beta(2, 2) prior after 7 heads in 10 flips (exact reference)."""

from __future__ import annotations

import numpy as np

from bench.spec.likelihoods import Likelihood
from bench.spec.priors import Beta
from bench.spec.problem import Dataset, Latent, Problem, Split
from bench.spec.references import Reference

HEADS, FLIPS = 7, 10
A, B = 2 + HEADS, 2 + FLIPS - HEADS  # the conjugate posterior Beta(9, 5)


def make_data(seed: int) -> Dataset:
    return Dataset(train=Split(None, np.array([1.0] * HEADS + [0.0] * (FLIPS - HEADS))))


def reference(data: Dataset) -> Reference:
    mean, sd = A / (A + B), np.sqrt(A * B / ((A + B) ** 2 * (A + B + 1)))
    return Reference(
        "analytic",
        {"p": np.array(mean)},
        {"p": np.array(sd)},
        lambda rng, n: {"p": rng.beta(A, B, size=n)},
        {"method": f"conjugate posterior Beta({A}, {B})"},
    )


from bench_laplace.radon import PROBLEM as RADON  # noqa: E402  (a model problem: built only when used)

PROBLEMS = {
    "radon_intercepts": RADON,
    "tilted_coin": Problem(
        name="tilted_coin",
        suite="laplace_demo",
        description="p ~ Beta(2, 2); 7 heads in 10 flips",
        latents=(Latent("p", Beta(2.0, 2.0)),),
        task="density",
        make_data=make_data,
        reference=reference,
        likelihood=Likelihood("bernoulli", lambda ops, v, x: {"probs": v["p"]}),
    ),
}
SUITES = {"laplace_demo": ("tilted_coin",), "radon": ("radon_intercepts",)}
DEFAULT_METHODS = {
    "laplace_demo": ("laplace.map", "numpyro.svi:auto_normal"),
    "radon": (
        "numpyro.svi:auto_normal",
        "numpyro.svi:auto_mvn",
        "blackjax.meanfield_vi",
        "blackjax.fullrank_vi",
        "blackjax.pathfinder",
        "pymc.advi",
        "pymc.fullrank_advi",
    ),
}
