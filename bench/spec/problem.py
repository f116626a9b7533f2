"""The backend-neutral problem declaration and the spec's own (numpy, float64) log joint.

A problem is declared once; every backend translates it into its native model and must agree
with `Problem.log_joint` at the same parameter values. That agreement is what makes a
cross-backend table mean anything.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.spec import likelihoods
from bench.spec.draws import batched_where_it_agrees, over_draws
from bench.spec.likelihoods import Likelihood
from bench.spec.ops import NUMPY, Ops
from bench.spec.priors import Prior

TASKS = ("density", "regression", "classification")


@dataclass(frozen=True)
class Latent:
    name: str
    prior: Prior
    shape: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))


@dataclass(frozen=True)
class Split:
    """Inputs (None for problems without covariates), observed outputs, and for regression
    problems with a known truth the noise-free function values at x."""

    x: np.ndarray | None
    y: np.ndarray
    f: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    train: Split | None = None
    val: Split | None = None
    test: Split | None = None

    def fingerprint(self) -> str:
        """Content hash of every array, so a changed data recipe changes the cell hash."""
        digest = hashlib.sha256()
        for name in ("train", "val", "test"):
            split = getattr(self, name)
            for part in ("x", "y", "f"):
                array = None if split is None else getattr(split, part)
                digest.update(f"{name}.{part}".encode())
                if array is not None:
                    array = np.ascontiguousarray(array)
                    digest.update(str((array.dtype.str, array.shape)).encode())
                    digest.update(array.tobytes())
        return digest.hexdigest()


@dataclass(frozen=True)
class Recipe:
    """What is known about running this problem: the training budget the seeds used (shared by every
    backend unless a method's count is named), the hand-written guides that fit it, the reference
    build's settings, and how figures name its quality metric."""

    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1
    method_steps: Mapping[str, int] = field(default_factory=dict)  # method name -> the seeds' step count
    guides: tuple[str, ...] = ()  # custom variational guides written for this problem (numpyro.svi)
    reference: Mapping[str, int] = field(default_factory=dict)  # reference-build settings (chains, thin, ...)
    quality_label: str = ""  # figures' label of the task's quality metric, where the generic one is vague
    protocol: str = ""  # the protocol its cells run under by default (bench.spec.protocols); "": the suite's

    def steps_for(self, method: str) -> int:
        return self.method_steps.get(method, self.steps)


@dataclass(frozen=True)
class Problem:
    name: str
    suite: str
    description: str
    latents: tuple[Latent, ...]
    task: str
    make_data: Callable[[int], Dataset]
    reference: Callable[[Dataset], Any] | None = None  # the exact reference, where one exists; else MCMC
    likelihood: Likelihood | None = None
    potential: Callable[[Ops, Mapping[str, Any]], Any] | None = None
    recipe: Recipe = field(default_factory=Recipe)
    config: Mapping[str, Any] = field(default_factory=dict)
    grid: Callable[[], np.ndarray] | None = None  # networks: inputs where plots show the predictive surface
    # Derived quantities (Stan's transformed parameters): numpy, from latent draws with a leading draw
    # axis to {name: array}; their shapes; and which quantities scoring compares (default: the latents).
    derived: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None = None
    derived_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    scored: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.likelihood is None and self.potential is None:
            raise ValueError(f"problem {self.name} needs a likelihood or a potential")

    # -- the spec's own evaluation -------------------------------------------------------
    def log_prior(self, values: Mapping[str, np.ndarray]) -> float:
        total = 0.0
        for latent in self.latents:
            x = np.asarray(values[latent.name], dtype=np.float64).reshape(latent.shape)
            total += float(np.sum(latent.prior.log_density(x)))
        return total

    def log_likelihood(self, values: Mapping[str, np.ndarray], split: Split | None) -> float:
        total = 0.0
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
        if self.likelihood is not None and split is not None:
            x = None if split.x is None else np.asarray(split.x, dtype=np.float64)
            params = self.likelihood.params(NUMPY, arrays, x)
            y = np.asarray(split.y, dtype=np.float64)
            total += float(np.sum(likelihoods.log_density(self.likelihood.family, params, y)))
        if self.potential is not None:
            total += float(self.potential(NUMPY, arrays))
        return total

    def log_joint(self, values: Mapping[str, np.ndarray], data: Dataset) -> float:
        """log p(theta, D) in constrained space, no Jacobian: the ground truth for agreement."""
        lp = self.log_prior(values)
        if not np.isfinite(lp):
            return lp
        return lp + self.log_likelihood(values, data.train)

    def predictive_mean(self, values: Mapping[str, np.ndarray], x: np.ndarray | None) -> np.ndarray:
        """E[y | theta, x] at each row of x: probabilities for classification, means for regression."""
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
        params = self.likelihood.params(NUMPY, arrays, None if x is None else np.asarray(x, dtype=np.float64))
        return likelihoods.mean(self.likelihood.family, params)

    def log_joint_draws(self, draws: Mapping[str, np.ndarray], data: Dataset) -> np.ndarray:
        """log_joint for each of S draws (leading axis of every array), all at once where the spec's
        shapes allow (checked against the draw-by-draw evaluation), else draw by draw."""

        def one_by_one(part: Mapping[str, np.ndarray]) -> np.ndarray:
            n = len(next(iter(part.values())))
            return np.array([self.log_joint({k: v[i] for k, v in part.items()}, data) for i in range(n)])

        return batched_where_it_agrees(lambda part: self._log_joint_batched(part, data), one_by_one, draws)

    def _log_joint_batched(self, draws: Mapping[str, np.ndarray], data: Dataset) -> np.ndarray:
        shapes = {lat.name: lat.shape for lat in self.latents}
        n = len(next(iter(draws.values())))

        def per_draw(values) -> np.ndarray:
            values = np.asarray(values, dtype=np.float64)
            return np.broadcast_to(values, (n, *values.shape[1:])).reshape(n, -1).sum(axis=1)

        lp = sum(
            per_draw(lat.prior.log_density(np.asarray(draws[lat.name], dtype=np.float64).reshape(n, *lat.shape)))
            for lat in self.latents
        )
        arrays = over_draws({k: np.asarray(v, dtype=np.float64) for k, v in draws.items()}, shapes)
        ll = np.zeros(n)
        split = data.train
        if self.likelihood is not None and split is not None:
            x = None if split.x is None else np.asarray(split.x, dtype=np.float64)
            params = self.likelihood.params(NUMPY, arrays, x)
            ll = ll + per_draw(
                likelihoods.log_density(self.likelihood.family, params, np.asarray(split.y, dtype=np.float64))
            )
        if self.potential is not None:
            ll = ll + per_draw(self.potential(NUMPY, arrays))
        return np.where(np.isfinite(lp), lp + ll, lp)  # as log_joint: a prior outside its support is the answer

    # -- derived quantities and what is scored --------------------------------------------
    def with_derived(self, draws: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The latent draws plus every derived quantity, computed here from the latents, so every
        backend and method reports them the same way. Draws that hold the derived quantities but
        not every latent (a reference's own: posteriordb stores theta, not theta_trans) pass as they are."""
        out = dict(draws)
        if self.derived is not None and not (
            set(self.derived_shapes) <= set(draws) and any(lat.name not in draws for lat in self.latents)
        ):
            latents = {lat.name: np.asarray(draws[lat.name], dtype=np.float64) for lat in self.latents}
            out.update({k: np.asarray(v, dtype=np.float64) for k, v in self.derived(latents).items()})
        return out

    def scored_shapes(self) -> dict[str, tuple[int, ...]]:
        """{name: shape} of the quantities compared with the reference, in scoring order."""
        shapes = {lat.name: lat.shape for lat in self.latents} | dict(self.derived_shapes)
        return (
            {name: shapes[name] for name in self.scored}
            if self.scored
            else {lat.name: lat.shape for lat in self.latents}
        )

    # -- helpers used by the harness -------------------------------------------------------
    def random_point(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {lat.name: lat.prior.support.random_point(rng, lat.shape) for lat in self.latents}

    def central_point(self) -> dict[str, np.ndarray]:
        return {lat.name: lat.prior.support.central_point(lat.shape) for lat in self.latents}

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.name}"

    def fingerprint(self) -> str:
        """Hash of the declaration: latents, task, config, recipe and the defining source."""
        source = inspect.getsource(inspect.getmodule(self.make_data))
        payload = {
            "name": self.key,
            "latents": [repr(lat) for lat in self.latents],
            "task": self.task,
            "family": None if self.likelihood is None else self.likelihood.family,
            "config": {k: repr(v) for k, v in sorted(self.config.items())},
            "recipe": repr(self.recipe),
            "source": hashlib.sha256(source.encode()).hexdigest(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def data_rng(problem_name: str, seed: int) -> np.random.Generator:
    """The generator behind a problem's data: deterministic in (problem, seed), distinct per problem."""
    tag = int.from_bytes(hashlib.sha256(problem_name.encode()).digest()[:4], "little")
    return np.random.default_rng([seed, tag])
