"""Cost to accuracy: from the quality metric at a fit's checkpoints (bench.scoring.checkpoints), the
first checkpoint from which it stays within each of its task's thresholds (bench.scoring.metrics.THRESHOLDS),
as seconds, steps and gradient evaluations. VI and MCMC meet on one axis: a VI checkpoint is the
fitted q at that step, an MCMC one the running estimate from the first n kept draws of every chain
(warm-up included in its cost).

A threshold never reached has `to_<name>_reached` = 0 and no cost metrics (the store keeps finite
numbers only); where the quality cannot be judged (no reference quality for a network) there is
no metric at all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.scoring.metrics import quality_metric, thresholds_for


def first_reached(quality: np.ndarray, target: float, higher_is_better: bool) -> int | None:
    """Index of the first checkpoint from which the quality stays at the target or better through the
    last one (NaN never counts), or None. Staying, not touching: a running MCMC estimate from four
    draws, or a VI mean on its way past the posterior's, can cross a threshold by chance long before
    the method holds it."""
    quality = np.asarray(quality, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hit = (quality >= target if higher_is_better else quality <= target) & np.isfinite(quality)
    if not len(hit) or not hit[-1]:
        return None
    misses = np.flatnonzero(~hit)
    return int(misses[-1]) + 1 if len(misses) else 0


def cost_to_accuracy(
    task: str, arrays: Mapping[str, np.ndarray], reference_quality: float | None = None
) -> dict[str, float]:
    """to_<threshold>_{s,steps,grads,reached} for every threshold of the task."""
    if "checkpoint_quality" not in arrays or not len(arrays["checkpoint_quality"]):
        return {}
    higher = quality_metric(task).higher_is_better
    metrics: dict[str, float] = {}
    for threshold in thresholds_for(task):
        target = threshold.target(reference_quality)
        if not np.isfinite(target):
            continue
        index = first_reached(arrays["checkpoint_quality"], target, higher)
        metrics[f"to_{threshold.name}_reached"] = float(index is not None)
        if index is None:
            continue
        metrics[f"to_{threshold.name}_s"] = float(arrays["checkpoint_run_s"][index])
        metrics[f"to_{threshold.name}_steps"] = float(arrays["checkpoint_step"][index])
        if "checkpoint_grads" in arrays:
            metrics[f"to_{threshold.name}_grads"] = float(arrays["checkpoint_grads"][index])
    return metrics
