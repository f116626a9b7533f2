"""Breast cancer (PyMC BNN seed): mean radius and mean texture, standardised; MLP 2-5-5-1 without biases."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import scale

from bench.spec.networks import MLP
from bench.spec.priors import Normal
from bench.spec.problem import Dataset, Problem, Recipe, Split

FEATURES = ("mean radius", "mean texture")


def make_problem(hidden: tuple[int, ...] = (5, 5)) -> Problem:
    net = MLP((2, *hidden, 1), "tanh", bias=False)

    def make_data(seed: int) -> Dataset:
        bunch = load_breast_cancer()  # bundled with scikit-learn: no download
        columns = [list(bunch.feature_names).index(name) for name in FEATURES]
        x = scale(bunch.data[:, columns].astype(np.float64))
        y = bunch.target.astype(np.float64)
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=seed)
        return Dataset(train=Split(x_train, y_train), test=Split(x_test, y_test))

    return Problem(
        name="breast_cancer",
        suite="bnn",
        description=f"scikit-learn breast cancer, 2 standardised features; MLP {'-'.join(map(str, net.widths))} tanh, no biases",
        latents=net.latents(Normal(0.0, 1.0)),
        task="classification",
        make_data=make_data,
        likelihood=net.likelihood("bernoulli", "logits"),
        recipe=Recipe(
            steps=10_000,
            learning_rate=0.01,
            particles=1,
            # the seeds' iteration counts (seed 002): ADVI 30,000, minibatch ADVI 40,000
            method_steps={"pymc.advi": 30_000, "pymc.advi_minibatch": 40_000},
            # NUTS trees capped at depth 8 (255 leapfrog steps): a build takes minutes on 2 cores
            reference={"warmup": 1000, "draws": 2500, "thin": 1, "max_tree_depth": 8},
        ),
        config={"widths": net.widths, "features": FEATURES},
    )


PROBLEM = make_problem()
