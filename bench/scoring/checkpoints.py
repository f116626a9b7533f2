"""Time to accuracy, the harness side: the task's quality metric at each checkpoint a method handed
back (bench.spec.checkpoints), stored with the record, so quality against wall time and gradient
evaluations can be plotted, and cost to accuracy computed (bench.scoring.accuracy), without
re-running anything. The worker evaluates each checkpoint after the clock has stopped.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.scoring import fit_metrics as scoring
from bench.spec.checkpoints import Checkpoint, Draws
from bench.spec.draws import flatten
from bench.spec.problem import Dataset, Problem
from bench.spec.references import Reference

CHECKPOINT_DRAWS = 1000  # networks: each draw is one forward pass over the test points
# Density problems: the Monte Carlo error of a mean from n draws is sd / sqrt(n); at 4,000 draws
# it is 0.016 reference sds, small beside the tightest cost-to-accuracy threshold (0.1 sds).
DENSITY_CHECKPOINT_DRAWS = 4000


def quality(
    problem: Problem, data: Dataset, draws: Draws, moments: tuple[np.ndarray, np.ndarray] | None, seed: int
) -> float:
    """The task's quality metric (bench.scoring.metrics.QUALITY_METRIC) of one set of draws; NaN where it cannot be computed.
    moments: the reference's flat mean and sd (scoring.reference_moments), for density problems."""
    if any(not np.all(np.isfinite(v)) for v in draws.values()):
        return float("nan")
    if problem.task == "density":
        if moments is None:
            return float("nan")
        _, q = flatten(problem.with_derived(draws), problem.scored_shapes())
        return float(np.max(scoring.standardised_mean_errors(q, *moments)))
    return scoring.function_space_quality(problem, data, draws)


def reference_quality(problem: Problem, data: Dataset, reference: Reference | None, seed: int) -> float | None:
    """The reference posterior's own quality metric (networks: its test AUC or RMSE from as many
    draws as a checkpoint gets), which the networks' cost-to-accuracy thresholds are relative to."""
    if problem.task == "density" or reference is None:
        return None
    draws = reference.draws(np.random.default_rng(seed), CHECKPOINT_DRAWS)
    value = quality(problem, data, draws, None, seed)
    return value if np.isfinite(value) else None


def checkpoint_arrays(
    problem: Problem,
    data: Dataset,
    checkpoints: list[Checkpoint],
    run_s: float,
    reference: Reference | None,
    seed: int,
    evaluations: float | None = None,
) -> Mapping[str, np.ndarray]:
    """checkpoint_step, checkpoint_run_s (pro-rata seconds into the timed run), checkpoint_quality and,
    given the run's gradient (or log-density) evaluations, checkpoint_grads (pro rata as well)."""
    if not checkpoints or (problem.task == "density" and reference is None):
        return {}
    moments = scoring.reference_moments(problem, reference) if problem.task == "density" else None
    num = DENSITY_CHECKPOINT_DRAWS if problem.task == "density" else CHECKPOINT_DRAWS
    values = [quality(problem, data, point.sample(num), moments, seed) for point in checkpoints]
    arrays = {
        "checkpoint_step": np.array([point.step for point in checkpoints], dtype=np.float64),
        "checkpoint_run_s": np.array([point.work * run_s for point in checkpoints], dtype=np.float64),
        "checkpoint_quality": np.array(values, dtype=np.float64),
    }
    if evaluations is not None:
        arrays["checkpoint_grads"] = np.array([point.work * evaluations for point in checkpoints], dtype=np.float64)
    return arrays
