"""Coin flip (SVI part 1 seed): fairness f ~ Uniform(0, 1) after 12 heads and 8 tails."""

from __future__ import annotations

import numpy as np
from scipy import special

from bench.spec.likelihoods import Likelihood
from bench.spec.priors import Uniform
from bench.spec.problem import Dataset, Latent, Problem, Recipe, Split
from bench.spec.references import Reference

HEADS, TAILS = 12, 8
POST_A, POST_B = 1 + HEADS, 1 + TAILS


def make_data(seed: int) -> Dataset:
    return Dataset(train=Split(None, np.concatenate([np.ones(HEADS), np.zeros(TAILS)])))


def likelihood_params(ops, latents, x):
    return {"probs": latents["f"]}


def reference(data: Dataset) -> Reference:
    a, b = POST_A, POST_B
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    return Reference(
        "analytic",
        {"f": np.array(mean)},
        {"f": np.array(sd)},
        lambda rng, n: {"f": rng.beta(a, b, size=n)},
        {"method": f"conjugate posterior Beta({a}, {b})"},
        log_evidence=float(special.betaln(a, b)),  # uniform prior: p(D) = B(13, 9)
    )


PROBLEM = Problem(
    name="coinflip",
    suite="toy",
    description="f ~ Uniform(0, 1); 12 heads, 8 tails, Bernoulli(f)",
    latents=(Latent("f", Uniform(0.0, 1.0)),),
    task="density",
    make_data=make_data,
    reference=reference,
    likelihood=Likelihood("bernoulli", likelihood_params),
    recipe=Recipe(steps=10_000, learning_rate=0.0005, particles=32, guides=("beta", "normal")),
    config={"heads": HEADS, "tails": TAILS},
)
