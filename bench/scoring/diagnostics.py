"""MCMC and importance-sampling diagnostics from `arviz-stats`'s array interface.

The same ArviZ code (rank-normalised ESS and split R-hat, PSIS) without ArviZ 0.x's import of
its plotting stack, xarray I/O and Numba kernels: numpy and scipy only. The array functions
broadcast over leading axes, so every component of a sample is one call.
"""

from __future__ import annotations

import warnings

import numpy as np

TAIL_PROB = (0.05, 0.95)  # ArviZ's tail ESS: the 5% and 95% quantiles


def _stats():
    from arviz_stats.base import array_stats

    return array_stats


def ess(per_chain: np.ndarray, method: str = "bulk") -> np.ndarray:
    """ESS of each component of (chains, draws, components)."""
    kwargs = {"prob": TAIL_PROB} if method == "tail" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(_stats().ess(np.moveaxis(per_chain, -1, 0), method=method, **kwargs), dtype=float)


def rhat(per_chain: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of each component of (chains, draws, components)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(_stats().rhat(np.moveaxis(per_chain, -1, 0)), dtype=float)


def psis_khat(log_weights: np.ndarray) -> float:
    """Pareto k-hat of importance log weights (PSIS, relative efficiency 1). arviz-stats' psislw
    takes log-likelihoods, as PSIS-LOO does (its ratios are their negatives): hence the sign."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, khat = _stats().psislw(-np.asarray(log_weights, dtype=np.float64), r_eff=1.0)
    return float(khat)
