"""Observed families of the problem interface and their numpy log densities (float64).

A problem's `params` function returns the family's parameters by name: Bernoulli takes
`logits` or `probs`, Normal `loc` and `scale`, Gamma `concentration` and `rate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

FAMILY_PARAMS = {
    "bernoulli": ({"logits"}, {"probs"}),
    "normal": ({"loc", "scale"},),
    "gamma": ({"concentration", "rate"},),
}


@dataclass(frozen=True)
class Likelihood:
    """y_i ~ family(params(ops, latents, x)), independent over the rows of the data."""

    family: str
    params: Callable[[Any, Mapping[str, Any], Any], dict[str, Any]]

    def __post_init__(self) -> None:
        if self.family not in FAMILY_PARAMS:
            raise ValueError(f"unknown likelihood family {self.family!r}; valid: {sorted(FAMILY_PARAMS)}")


def check_params(family: str, params: Mapping[str, Any]) -> None:
    """Reject a parameter set the family does not take (a problem-definition bug)."""
    if set(params) not in FAMILY_PARAMS[family]:
        raise ValueError(f"{family} likelihood takes one of {FAMILY_PARAMS[family]}, got {set(params)}")


def log_density(family: str, params: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
    """Pointwise log density of y under the family (numpy, the spec's ground truth)."""
    check_params(family, params)
    if family == "bernoulli":
        if "logits" in params:
            logits = np.asarray(params["logits"], dtype=np.float64)
            return y * logits - np.logaddexp(0.0, logits)
        p = np.asarray(params["probs"], dtype=np.float64)
        return special.xlogy(y, p) + special.xlog1py(1.0 - y, -p)
    if family == "normal":
        z = (y - params["loc"]) / params["scale"]
        return -0.5 * z * z - np.log(params["scale"]) - 0.5 * math.log(2.0 * math.pi)
    a, b = params["concentration"], params["rate"]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = special.xlogy(a, b) + special.xlogy(a - 1.0, y) - b * y - special.gammaln(a)
    return np.where(y > 0, logp, -np.inf)


def mean(family: str, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """E[y | params]: the predictive probability (Bernoulli) or mean (Normal, Gamma)."""
    check_params(family, params)
    if family == "bernoulli":
        return special.expit(params["logits"]) if "logits" in params else np.asarray(params["probs"])
    if family == "normal":
        return np.asarray(params["loc"])
    return np.asarray(params["concentration"]) / params["rate"]
