"""What a cell keeps for figures, beyond scalar metrics: small, float32, stored in `arrays`.

- every problem: a thinned sample of the draws (marginal and 2-D density pictures);
- networks with a grid: the posterior-mean prediction and its 94% interval on the grid
  (the probability surface and uncertainty pictures, the sine band);
- classification: the AUC of every kept draw on the test points (AUC distributions).
"""

from __future__ import annotations

import numpy as np

from bench.spec.draws import thin
from bench.scoring.predictive import auc_rows
from bench.spec.problem import Dataset, Problem
from bench.scoring.fit_metrics import predictions

KEPT_DRAWS = 2000
SURFACE_DRAWS = 500


def surface(problem: Problem, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean and 94% interval (3% and 97% quantiles) of the prediction on the problem's grid."""
    values = predictions(problem, thin(draws, SURFACE_DRAWS), problem.grid())
    low, high = np.quantile(values, [0.03, 0.97], axis=0)
    return {"grid_mean": values.mean(axis=0), "grid_low": low, "grid_high": high}


def kept_rows(total: int, chains: int | None, keep: int = KEPT_DRAWS) -> np.ndarray:
    """Rows of a chain-major sample to keep: evenly spaced within each chain, so the kept draws
    are still `chains` equal blocks that ArviZ can split (R-hat), and evenly spaced overall else."""
    if not chains or chains < 2 or total % chains:
        return np.linspace(0, total - 1, min(keep, total)).astype(int)
    per_chain = total // chains
    within = np.linspace(0, per_chain - 1, min(max(1, keep // chains), per_chain)).astype(int)
    return np.concatenate([chain * per_chain + within for chain in range(chains)])


def figure_arrays(
    problem: Problem,
    data: Dataset,
    draws: dict[str, np.ndarray],
    chains: int | None = None,
    sample_stats: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    draws = problem.with_derived(draws)  # what the reference scores (eight schools: theta) is kept too
    rows = kept_rows(len(next(iter(draws.values()))), chains)
    arrays = {f"draws:{name}": np.asarray(values)[rows].reshape(len(rows), -1) for name, values in draws.items()}
    if chains and len(rows) % chains == 0:
        arrays["draws_chains"] = np.array([chains], dtype=np.float32)
        arrays.update({f"stats:{name}": np.asarray(values)[rows] for name, values in (sample_stats or {}).items()})
    if problem.task in ("classification", "regression") and problem.grid is not None:
        arrays.update(surface(problem, draws))
    if problem.task == "classification":
        test_draws = predictions(problem, thin(draws, 1000), data.test.x)
        arrays["auc_draws"] = auc_rows(np.asarray(data.test.y), test_draws)
    return arrays
