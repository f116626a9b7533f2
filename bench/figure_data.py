"""What a cell keeps for figures, beyond scalar metrics: small, float32, stored in `arrays`.

- every problem: a thinned sample of the draws (marginal and 2-D density pictures);
- networks with a grid: the posterior-mean prediction and its 94% interval on the grid
  (the probability surface and uncertainty pictures, the sine band);
- classification: the AUC of every kept draw on the test points (AUC distributions).
"""

from __future__ import annotations

import numpy as np

from bench.draws import thin
from bench.predictive import auc_rows
from bench.problem import Dataset, Problem
from bench.scoring import predictions

KEPT_DRAWS = 2000
SURFACE_DRAWS = 500


def surface(problem: Problem, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean and 94% interval (3% and 97% quantiles) of the prediction on the problem's grid."""
    values = predictions(problem, thin(draws, SURFACE_DRAWS), problem.grid())
    low, high = np.quantile(values, [0.03, 0.97], axis=0)
    return {"grid_mean": values.mean(axis=0), "grid_low": low, "grid_high": high}


def figure_arrays(problem: Problem, data: Dataset, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kept = thin(problem.with_derived(draws), KEPT_DRAWS)
    arrays = {f"draws:{name}": values.reshape(len(values), -1) for name, values in kept.items()}
    if problem.task in ("classification", "regression") and problem.grid is not None:
        arrays.update(surface(problem, draws))
    if problem.task == "classification":
        test_draws = predictions(problem, thin(draws, 1000), data.test.x)
        arrays["auc_draws"] = auc_rows(np.asarray(data.test.y), test_draws)
    return arrays
