"""Scoring a fit the same way for every backend: ELBO, k-hat, moments and W1 against the
reference, function-space metrics, MCMC diagnostics and cost (`fit_metrics`), predictive metrics
(`predictive`), ESS, R-hat and PSIS (`diagnostics`), the convergence verdict of VI fits (`convergence`),
quality along the fit (`checkpoints`) and the cost of reaching each threshold of it (`accuracy`), arrays
kept for figures (`figure_data`), and the catalogue of every metric (`metrics`).

`fit_metrics`' functions are this package's surface (`scoring.score(...)`), loaded on first use so
that importing the catalogue does not import scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

_FIT_METRICS = (
    "COST_ONLY_DRAWS",
    "cost_metrics",
    "cost_only_metrics",
    "elbo_metrics",
    "first_nonfinite_step",
    "function_space_metrics",
    "function_space_quality",
    "inside_training_range",
    "loss_metrics",
    "mcmc_metrics",
    "parameter_metrics",
    "predictions",
    "psis_khat",
    "reference_moments",
    "score",
    "standardised_mean_errors",
    "thin_trace",
)
__all__ = [
    *_FIT_METRICS,
    "accuracy",
    "checkpoints",
    "convergence",
    "diagnostics",
    "figure_data",
    "fit_metrics",
    "metrics",
    "predictive",
]


def __getattr__(name: str) -> Any:
    if name in _FIT_METRICS:
        return getattr(importlib.import_module("bench.scoring.fit_metrics"), name)
    raise AttributeError(f"module 'bench.scoring' has no attribute {name!r}")
