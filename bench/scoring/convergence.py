"""Did an iterative VI fit converge? A verdict from its loss trace, the same rule for every library.

The verdict reads the end of the trace where the learning rate no longer changes (TAIL_FRACTIONS:
the last half under a constant rate, the last fifth under the tuned protocol's step decay, whose
last drop is at three quarters, or the seed's OneCycle, whose final phase starts at four fifths) and
asks two questions of the loss there:

1. Is it still falling? `convergence_stat` is the z-score of the fall of the mean loss from the first
   half of the tail to the second, against its standard error from batch means (BATCHES per half,
   so the loss's autocorrelation is accounted for): the change of the smoothed ELBO between the last
   two windows against its standard error. A fall of more than Z_MAX standard errors that is also
   larger than MIN_DROP nats is not converged: the fit was stopped while it was still improving.
2. Is it stationary? The rank-normalised (bulk) split R-hat of the loss over WINDOWS consecutive
   windows (Dhaka, Catalina, Andersen, Magnusson, Huggins, Vehtari 2020, "Robust, accurate stochastic
   optimization for variational inference", NeurIPS: an optimiser at its stationary regime produces
   iterates that look like one Markov chain) must be at most RHAT_MAX, unless the windows' mean losses
   lie within MIN_DROP of each other; kept as `convergence_rhat`.

Why both: R-hat compares the drift with the loss's per-step noise, and a one-draw ELBO estimate can
be so noisy that a fall of 80 nats over 2,000 steps hides in it (PyMC's full-rank ADVI on nes2000 at
the posteriordb recipe: R-hat 1.04, still falling from 1,330 to 1,248 towards an optimum near 957);
the z-test compares the fall with the standard error of the window means, which shrinks with the
window's length, and catches it. Alone, the z-test would call a fall of a hundredth of a nat
"significant" at 10,000 steps: MIN_DROP keeps the verdict to falls that matter. R-hat catches what
a comparison of two halves does not (a loss that jumps about). Why the loss and not the iterates
(Dhaka et al. use the iterates): the loss trace is what every backend returns, so the harness
judges every library from the same data. Why half the trace under a constant rate: a fit that creeps
(torch's default Adam step 1e-3 on gamma, q still four times too wide after 10,000 steps) falls by
a few tenths of a nat per thousand steps, lost in the noise of a fifth of the trace but not of half.
"""

from __future__ import annotations

import warnings

import numpy as np

# the end of the trace the verdict reads, by learning-rate schedule (the rate is fixed there)
TAIL_FRACTIONS = {"constant": 0.5, "step_decay": 0.2, "onecycle": 0.2}
TAIL_FRACTION = 0.2  # any other (or unknown) schedule
WINDOWS = 4  # consecutive windows of that tail, each a "chain" for R-hat
BATCHES = 10  # batch means per half of the tail, for the standard error of the fall
MIN_PER_WINDOW = 10  # fewer losses per window: too short to judge, not converged
RHAT_MAX = 1.1  # Dhaka et al.'s threshold for R-hat over optimisation iterates
Z_MAX = 3.0  # a fall of the mean loss beyond three standard errors ...
MIN_DROP = 0.1  # ... and beyond a tenth of a nat between the halves of the tail: still improving


def tail_fraction(schedule: str | None) -> float:
    return TAIL_FRACTIONS.get(schedule or "", TAIL_FRACTION)


def _tail(losses: np.ndarray, fraction: float) -> np.ndarray | None:
    losses = np.asarray(losses, dtype=np.float64)
    per_window = int(len(losses) * fraction) // WINDOWS
    if per_window < MIN_PER_WINDOW:
        return None
    tail = losses[len(losses) - per_window * WINDOWS :]
    return tail if np.all(np.isfinite(tail)) else None


def loss_rhat(tail: np.ndarray) -> float:
    """Bulk split R-hat of the tail over WINDOWS windows (arviz-stats)."""
    if np.ptp(tail) == 0:  # a loss that no longer moves (deterministic objective at its optimum)
        return 1.0
    from arviz_stats.base import array_stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(array_stats.rhat(tail.reshape(WINDOWS, -1), method="z_scale"))


def fall(tail: np.ndarray) -> tuple[float, float]:
    """(fall of the mean loss from the tail's first half to its second, its z-score by batch means)."""
    half = len(tail) // 2
    per_batch = half // BATCHES
    first, second = (
        part[: per_batch * BATCHES].reshape(BATCHES, per_batch).mean(axis=1)
        for part in (tail[:half], tail[half : 2 * half])
    )
    drop = float(first.mean() - second.mean())
    se = float(np.sqrt(first.var(ddof=1) / BATCHES + second.var(ddof=1) / BATCHES))
    if se == 0:
        return drop, 0.0 if drop == 0 else float(np.sign(drop) * np.inf)
    return drop, drop / se


def convergence_metrics(losses: np.ndarray, schedule: str | None = "constant") -> dict[str, float]:
    """{'converged': 1.0 or 0.0, 'convergence_stat': the fall's z-score, 'convergence_rhat': the R-hat,
    'convergence_drop': the fall in nats, 'convergence_window': the fraction of the trace read}; a
    trace too short to judge is not converged. `schedule`: the fit's learning-rate schedule."""
    fraction = tail_fraction(schedule)
    tail = _tail(losses, fraction)
    if tail is None:
        nan = float("nan")
        return {
            "converged": 0.0,
            "convergence_stat": nan,
            "convergence_rhat": nan,
            "convergence_drop": nan,
            "convergence_window": fraction,
        }
    drop, z = fall(tail)
    rhat = loss_rhat(tail)
    still_falling = z > Z_MAX and drop > MIN_DROP
    # not stationary: R-hat beyond its threshold and the windows' mean losses more than MIN_DROP apart
    moving = rhat > RHAT_MAX and np.ptp(tail.reshape(WINDOWS, -1).mean(axis=1)) > MIN_DROP
    return {
        "converged": float(not (still_falling or moving)),
        "convergence_stat": z,
        "convergence_rhat": rhat,
        "convergence_drop": drop,
        "convergence_window": fraction,
    }


def reason(metrics: dict[str, float]) -> str:
    """One line for a fit that did not converge (empty when it did)."""
    if metrics.get("converged", 1.0) == 1.0:
        return ""
    z, rhat, drop = (metrics.get(k, float("nan")) for k in ("convergence_stat", "convergence_rhat", "convergence_drop"))
    if not np.isfinite(rhat):
        return "not converged: the loss trace is too short to judge"
    where = f"over the last {metrics.get('convergence_window', TAIL_FRACTION):.0%} of steps"
    if z > Z_MAX and drop > MIN_DROP:
        return f"not converged: the loss still falls by {drop:.3g} nats ({z:.1f} standard errors) {where}"
    return f"not converged: loss R-hat {rhat:.3g} {where} > {RHAT_MAX}"
