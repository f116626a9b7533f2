"""Time to accuracy, the harness side: the task's quality metric at each checkpoint a method handed
back (bench.spec.checkpoints), stored with the record, so quality against wall time can be plotted
without re-running anything. The worker evaluates each checkpoint after the clock has stopped.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.scoring import fit_metrics as scoring
from bench.spec.checkpoints import Checkpoint, Draws
from bench.spec.draws import flatten
from bench.spec.problem import Dataset, Problem
from bench.spec.references import Reference

CHECKPOINT_DRAWS = 1000


def quality(problem: Problem, data: Dataset, draws: Draws, moments: tuple[np.ndarray, np.ndarray] | None,
            seed: int) -> float:  # fmt: skip
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


def checkpoint_arrays(problem: Problem, data: Dataset, checkpoints: list[Checkpoint], run_s: float,
                      reference: Reference | None, seed: int) -> Mapping[str, np.ndarray]:  # fmt: skip
    """checkpoint_step, checkpoint_run_s (pro-rata seconds into the timed run) and checkpoint_quality."""
    if not checkpoints or (problem.task == "density" and reference is None):
        return {}
    moments = scoring.reference_moments(problem, reference) if problem.task == "density" else None
    values = [quality(problem, data, point.sample(CHECKPOINT_DRAWS), moments, seed) for point in checkpoints]
    return {
        "checkpoint_step": np.array([point.step for point in checkpoints], dtype=np.float64),
        "checkpoint_run_s": np.array([point.work * run_s for point in checkpoints], dtype=np.float64),
        "checkpoint_quality": np.array(values, dtype=np.float64),
    }
