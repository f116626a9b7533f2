"""Function-space metrics for networks: weights are not identifiable, predictions are.

Classification works on p[s, i] = P(y_i = 1 | theta_s, x_i); regression on f[s, i], the
network's mean at x_i, with the problem's Normal noise for predictive densities and intervals.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

ECE_BINS = 10
PROB_FLOOR = 1e-12
AUC_BOOTSTRAP = 200  # resamples of the test points for the AUC's standard error


def auc_standard_error(y: np.ndarray, p: np.ndarray, seed: int = 0) -> float:
    """Bootstrap over test points (scipy) of the posterior-mean AUC: the regression gate's yardstick."""
    if len(np.unique(y)) != 2:
        return float("nan")
    result = stats.bootstrap(
        (np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)),
        _auc_paired,
        paired=True,
        vectorized=True,
        n_resamples=AUC_BOOTSTRAP,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(result.standard_error)


def _auc_paired(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """AUC along the last axis for resampled (labels, scores) pairs, by the rank identity (ties averaged)."""
    ranks = stats.rankdata(p, axis=axis)
    n_pos = y.sum(axis=axis)
    n_neg = y.shape[axis] - n_pos
    return ((ranks * y).sum(axis=axis) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # lazily: density cells never load scikit-learn

    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of every row of `scores` at once, by the Mann-Whitney rank identity (ties averaged,
    as roc_auc_score does): thousands of per-draw AUCs in one vectorised call."""
    positive = y == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return np.full(len(scores), np.nan)
    ranks = stats.rankdata(scores, axis=1)
    return (ranks[:, positive].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mass-weighted |observed frequency - mean predicted probability| over equal-width bins of p."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(error)


def _clipped(p_draws: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p_draws, dtype=np.float64), PROB_FLOOR, 1 - PROB_FLOOR)


def auc_of_mean(y: np.ndarray, p_draws: np.ndarray) -> float:
    """The AUC of the posterior-mean probability: classification_metrics' `auc` alone (checkpoints)."""
    return _auc(np.asarray(y, dtype=np.float64), _clipped(p_draws).mean(axis=0))


def rmse_to_truth(f_true: np.ndarray, f_draws: np.ndarray, inside: np.ndarray | None) -> float:
    """RMSE of the predictive mean to the true function, inside the data range: regression_metrics' `rmse`."""
    f_mean = np.asarray(f_draws, dtype=np.float64).mean(axis=0)
    mask = np.ones(len(f_mean), dtype=bool) if inside is None else inside
    return float(np.sqrt(np.mean((f_mean[mask] - f_true[mask]) ** 2)))


def classification_metrics(y: np.ndarray, p_draws: np.ndarray) -> dict[str, float]:
    """Metrics of the posterior-mean probability, plus the AUC's spread over draws."""
    from sklearn.metrics import accuracy_score, brier_score_loss

    y = np.asarray(y, dtype=np.float64)
    p_draws = _clipped(p_draws)
    p_mean = p_draws.mean(axis=0)
    per_draw_auc = auc_rows(y, p_draws)
    log_lik = y * np.log(p_draws) + (1 - y) * np.log1p(-p_draws)  # (draws, points)
    lpd = special.logsumexp(log_lik, axis=0) - np.log(len(p_draws))
    return {
        "auc": _auc(y, p_mean),
        "auc_draws_mean": float(np.mean(per_draw_auc)),
        "auc_draws_sd": float(np.std(per_draw_auc, ddof=1)) if len(per_draw_auc) > 1 else 0.0,
        "accuracy": float(accuracy_score(y, p_mean > 0.5)),
        "lpd": float(np.mean(lpd)),
        "brier": float(brier_score_loss(y, p_mean)),
        "ece": expected_calibration_error(y, p_mean),
    }


def regression_metrics(
    y: np.ndarray,
    f_true: np.ndarray | None,
    f_draws: np.ndarray,
    noise_sd: float,
    inside: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """RMSE of the predictive mean to the true function (inside the data range and overall),
    test log predictive density per point, and coverage of the central 90% predictive interval."""
    y = np.asarray(y, dtype=np.float64)
    f_draws = np.asarray(f_draws, dtype=np.float64)
    f_mean = f_draws.mean(axis=0)
    log_lik = -0.5 * ((y - f_draws) / noise_sd) ** 2 - np.log(noise_sd) - 0.5 * np.log(2 * np.pi)
    lpd = special.logsumexp(log_lik, axis=0) - np.log(len(f_draws))
    y_draws = f_draws + noise_sd * np.random.default_rng(seed).normal(size=f_draws.shape)
    low, high = np.quantile(y_draws, [0.05, 0.95], axis=0)
    metrics = {"lpd": float(np.mean(lpd)), "coverage_90": float(np.mean((y >= low) & (y <= high)))}
    if f_true is not None:
        metrics["rmse"] = rmse_to_truth(f_true, f_draws, inside)
        metrics["rmse_all"] = float(np.sqrt(np.mean((f_mean - f_true) ** 2)))
    return metrics


def agreement(p_mean: np.ndarray, reference_mean: np.ndarray) -> float:
    """Mean absolute difference between a method's and the reference's predictive means."""
    return float(np.mean(np.abs(np.asarray(p_mean) - np.asarray(reference_mean))))
