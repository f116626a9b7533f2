"""Did an iterative VI fit converge? A verdict from its loss trace, the same rule for every library.

The statistic is the rank-normalised (bulk) split R-hat of the loss over windows of the end of the
trace (Dhaka, Catalina, Andersen, Magnusson, Huggins, Vehtari 2020, "Robust, accurate stochastic
optimization for variational inference", NeurIPS: an optimiser at its stationary regime produces
iterates that look like one Markov chain, so R-hat between consecutive windows tells a fit that
is still travelling from one that has arrived). The last TAIL_FRACTION of the steps is cut into
WINDOWS consecutive windows, each treated as a chain; `convergence_stat` is their R-hat (ArviZ's,
arviz-stats), and the fit is `converged` when it is at most RHAT_MAX.

Why this statistic rather than the change of the smoothed ELBO between two windows against its
standard error: a z-test of the change gets stricter as the windows get longer (10,000 steps make
any drift of a hundredth of a nat "significant") and its standard error needs the autocorrelation
of the loss; R-hat compares the drift with the loss's own stochastic noise, is scale-free (the same
threshold for a 1-D toy and a 100-D regression), and its rank normalisation ignores the heavy tail
of single-draw ELBO estimates. The bulk R-hat only (not the folded, scale part): a step decay
legitimately narrows the loss's spread. Why the loss and not the iterates (Dhaka et al. use the
iterates): the loss trace is what every backend returns, so the harness judges every library
from the same data. Why the tail: the tuned protocol's step decay (bench.spec.protocols) reaches
its final rate at three quarters of the steps, so the last fifth runs at one rate under every
schedule the harness uses.
"""

from __future__ import annotations

import warnings

import numpy as np

TAIL_FRACTION = 0.2  # the end of the trace the verdict reads
WINDOWS = 4  # consecutive windows of that tail, each a "chain" for R-hat
MIN_PER_WINDOW = 10  # fewer losses per window: too short to judge, not converged
RHAT_MAX = 1.1  # Dhaka et al.'s threshold for R-hat over optimisation iterates


def convergence_stat(losses: np.ndarray) -> float:
    """Bulk split R-hat of the loss over WINDOWS windows of its last TAIL_FRACTION (NaN when the trace
    is too short or not finite)."""
    losses = np.asarray(losses, dtype=np.float64)
    per_window = int(len(losses) * TAIL_FRACTION) // WINDOWS
    if per_window < MIN_PER_WINDOW:
        return float("nan")
    tail = losses[len(losses) - per_window * WINDOWS:]
    if not np.all(np.isfinite(tail)):
        return float("nan")
    if np.ptp(tail) == 0:  # a loss that no longer moves (deterministic objective at its optimum)
        return 1.0
    from arviz_stats.base import array_stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(array_stats.rhat(tail.reshape(WINDOWS, per_window), method="z_scale"))


def convergence_metrics(losses: np.ndarray) -> dict[str, float]:
    """{'converged': 1.0 or 0.0, 'convergence_stat': the R-hat}; a trace too short to judge is not converged."""
    stat = convergence_stat(losses)
    return {"converged": float(np.isfinite(stat) and stat <= RHAT_MAX), "convergence_stat": stat}


def reason(metrics: dict[str, float]) -> str:
    """One line for a fit that did not converge (empty when it did)."""
    if metrics.get("converged", 1.0) == 1.0:
        return ""
    stat = metrics.get("convergence_stat", float("nan"))
    if not np.isfinite(stat):
        return "not converged: the loss trace is too short to judge"
    return f"not converged: loss R-hat {stat:.3g} over the last {TAIL_FRACTION:.0%} of steps > {RHAT_MAX}"
