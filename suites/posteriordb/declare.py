"""One posteriordb posterior as a problem: the Stan program's density, its data and its reference.

Every program here is a Normal likelihood whose location is linear in a design matrix built from
the data exactly as the program's `transformed data` block does; `make_xy` builds (x, y) once
(the data are fixed: the seed does not change them) and `loc` writes the location against the
neutral ops. Constants: priors are normalised densities (half-distributions include their log 2,
which Stan's `~` drops), so every backend and the numpy spec share the same constants; the
posterior is unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from bench.spec.likelihoods import Likelihood
from bench.spec.problem import Dataset, Latent, Problem, Split
from suites.posteriordb import archive


def declare(
    name: str,
    posterior: str,
    description: str,
    latents: tuple[Latent, ...],
    make_xy: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]],
    loc: Callable[[Any, Mapping[str, Any], Any], Any],
    scale: str | Callable = "sigma",
    derived: Callable | None = None,
    derived_shapes: Mapping[str, tuple[int, ...]] | None = None,
    scored: tuple[str, ...] = (),
) -> Problem:
    """A density problem for one posteriordb posterior (name: the problem's name in the harness);
    scale: the latent holding the noise sd, or a function of (ops, latents, x) for a known one."""

    @cache
    def arrays() -> tuple[np.ndarray, np.ndarray]:
        return make_xy(archive.load_data(posterior))

    def make_data(seed: int) -> Dataset:
        x, y = arrays()
        return Dataset(train=Split(x, y))

    def likelihood_params(ops, values, x):
        return {"loc": loc(ops, values, x), "scale": scale(ops, values, x) if callable(scale) else values[scale]}

    problem = Problem(
        name=name,
        suite="posteriordb",
        description=description,
        latents=latents,
        task="density",
        make_data=make_data,
        likelihood=Likelihood("normal", likelihood_params),
        recipe=archive.RECIPE,
        # the declaring module's source: the spec hash must change when its design matrix does
        config={
            "posteriordb": posterior,
            "commit": archive.COMMIT,
            "definition": hashlib.sha256(inspect.getsource(inspect.getmodule(make_xy)).encode()).hexdigest(),
        },
        derived=derived,
        derived_shapes=dict(derived_shapes or {}),
        scored=scored,
    )

    shapes = tuple(problem.scored_shapes().items())

    def reference(data: Dataset):
        return archive.reference(posterior, shapes)

    return replace(problem, reference=reference)


def linear(ops, v, x):
    """loc = X beta: the design carries the intercept column where the program has one."""
    return ops.matmul(x, v["beta"])


def intercept_design(*columns: np.ndarray) -> np.ndarray:
    """[1, columns...]: beta[1] is the intercept, as in the Stan programs' `beta[1] + beta[2] * ...`."""
    return np.column_stack([np.ones(len(columns[0])), *columns])
