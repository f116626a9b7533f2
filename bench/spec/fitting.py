"""What a cell hands a method (FitContext) and what a method hands back (FitResult)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.spec.checkpoints import Checkpoint


@dataclass(frozen=True)
class FitContext:
    seed: int
    device: str  # "cpu" | "gpu"
    dtype: str  # "float32" | "float64"
    repeats: int  # warm, timed repeats of the compiled fit
    draws: int  # draws from q (or kept MCMC draws) handed to scoring


@dataclass
class FitResult:
    """Draws in constrained space (leading axis = draw), log q where the family allows, costs."""

    draws: dict[str, np.ndarray]
    log_q: np.ndarray | None
    losses: np.ndarray  # the library's own per-step loss (negative ELBO for VI)
    compile_s: float
    run_s: list[float]
    steps: int
    grad_evals: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    chains: int | None = None  # MCMC: draws are chain-major, (chains * draws_per_chain, ...)
    checkpoints: list[Checkpoint] = field(default_factory=list)  # time to accuracy (bench.scoring.checkpoints)
    # MCMC: per-draw sampler statistics under ArviZ's names (diverging, acceptance_rate, lp, n_steps,
    # tree_depth, energy), chain-major like the draws; only those the backend gives.
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)
    # `time.monotonic()` when the last timed repeat ended (time_repeats gives it): the fit's wall time
    # after it is final draws and bookkeeping (bench.execution.phases); None counts none as such.
    repeats_end: float | None = None


def time_repeats(call: Callable[[], Any], sync: Callable[[Any], Any], repeats: int) -> tuple[Any, list[float], float]:
    """Run an already-compiled fit `repeats` times; the clock stops only after `sync` returns.
    Returns the last output, each repeat's seconds and `monotonic()` when the last repeat ended
    (FitResult.repeats_end: what follows is final draws and bookkeeping)."""
    from time import perf_counter

    samples: list[float] = []
    output = None
    for _ in range(repeats):
        start = perf_counter()
        output = sync(call())
        samples.append(perf_counter() - start)
    return output, samples, monotonic()
