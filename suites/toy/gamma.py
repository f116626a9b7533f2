"""Gamma recovery (PyData Berlin SVI seed): infer the concentration of 1000 Gamma(2, 1) draws."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from bench.spec.likelihoods import Likelihood
from bench.spec.priors import HalfNormal
from bench.spec.problem import Dataset, Latent, Problem, Recipe, Split, data_rng
from bench.spec.references import Reference, quadrature_1d

TRUE_CONCENTRATION = 2.0
RATE = 1.0
N_OBS = 1000


def make_data(seed: int) -> Dataset:
    y = data_rng("gamma", seed).gamma(TRUE_CONCENTRATION, 1.0 / RATE, size=N_OBS)
    return Dataset(train=Split(None, y))


def likelihood_params(ops, latents, x):
    return {"concentration": latents["concentration"], "rate": RATE}


_CACHE: dict[str, Reference] = {}


def _quadrature(data: Dataset) -> Reference:
    def log_post(a: float) -> float:
        return PROBLEM.log_joint({"concentration": np.array(a)}, data)

    mode = optimize.minimize_scalar(lambda a: -log_post(a), bounds=(1e-3, 50.0), method="bounded").x
    h = 1e-3 * mode
    curvature = -(log_post(mode + h) - 2 * log_post(mode) + log_post(mode - h)) / h**2
    width = 15.0 / np.sqrt(curvature)
    return quadrature_1d("concentration", log_post, max(mode - width, 1e-9), mode + width)


def reference(data: Dataset) -> Reference:
    key = data.fingerprint()
    if key not in _CACHE:
        _CACHE[key] = _quadrature(data)
    return _CACHE[key]


PROBLEM = Problem(
    name="gamma",
    suite="toy",
    description="concentration ~ HalfNormal(1); 1000 draws of Gamma(concentration, rate 1)",
    latents=(Latent("concentration", HalfNormal(1.0)),),
    task="density",
    make_data=make_data,
    reference=reference,
    likelihood=Likelihood("gamma", likelihood_params),
    recipe=Recipe(steps=1000, learning_rate=0.005, particles=10, guides=("exp_normal",)),
    config={"true_concentration": TRUE_CONCENTRATION, "rate": RATE, "n_obs": N_OBS},
)
