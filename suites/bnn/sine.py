"""Sine regression (Bayesian inference seed): 20 noisy points of sin(x); MLP 1-5-1 ReLU, Normal noise sd 0.1."""

from __future__ import annotations

import numpy as np

from bench.spec.networks import MLP
from bench.spec.priors import Normal
from bench.spec.problem import Dataset, Problem, Recipe, Split, data_rng

NOISE_SD = 0.1
X_RANGE = (-3.0, 3.0)


def make_problem(hidden: int = 5, n_train: int = 20, n_grid: int = 200) -> Problem:
    net = MLP((1, hidden, 1), "relu", bias=True)

    def make_data(seed: int) -> Dataset:
        rng = data_rng("sine", seed)
        x = np.sort(rng.uniform(*X_RANGE, size=n_train))
        y = np.sin(x) + NOISE_SD * rng.normal(size=n_train)
        grid = np.linspace(*X_RANGE, n_grid)
        y_grid = np.sin(grid) + NOISE_SD * rng.normal(size=n_grid)  # noisy test targets for LPD and coverage
        return Dataset(
            train=Split(x[:, None], y, np.sin(x)),
            test=Split(grid[:, None], y_grid, np.sin(grid)),
        )

    return Problem(
        name="sine",
        suite="bnn",
        description=f"{n_train} points of sin(x) + N(0, 0.1^2), x ~ U(-3, 3); MLP 1-{hidden}-1 ReLU",
        latents=net.latents(Normal(0.0, 1.0)),
        task="regression",
        make_data=make_data,
        likelihood=net.likelihood("normal", "loc", scale=NOISE_SD),
        recipe=Recipe(
            steps=3000,
            learning_rate=0.01,
            particles=5,
            quality_label="RMSE to sin(x)",
            reference={"warmup": 2000, "draws": 2500, "thin": 4},  # mixes slowly between ReLU configurations
        ),
        grid=lambda: np.linspace(-4.5, 4.5, 300)[:, None],
        config={"widths": net.widths, "n_train": n_train, "n_grid": n_grid, "noise_sd": NOISE_SD},
    )


PROBLEM = make_problem()
