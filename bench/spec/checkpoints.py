"""Time to accuracy, the contract side: what a method hands back so the harness can score its fit
at checkpoints (bench.scoring.checkpoints does the scoring).

A method hands back `Checkpoint`s: the step reached, the fraction of the timed run's work done by
then, and a way to draw from the approximation as it stood. VI methods snapshot their variational
parameters at log-spaced steps inside the timed loop (a copy of a few vectors, no host sync); MCMC
methods offer the estimate from the first n kept draws of every chain. The worker evaluates each
checkpoint after the clock has stopped; the time of a checkpoint is its work fraction times the
median run time (pro rata: steps of a VI loop cost the same; MCMC weights iterations by gradient
evaluations where the sampler reports them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.spec.draws import thin as thin_to  # mcmc_prefixes has a `thin` argument of its own

# Log-spaced in steps and dense at the start, where cost to accuracy is decided for the fast methods:
# 32 points from 1/1024 of the run (at least step 1) to its end; 5,000 steps: 5, 6, 8, 10, 12, ...
CHECKPOINTS = 32
FIRST_FRACTION = 1 / 1024

Draws = dict[str, np.ndarray]


@dataclass(frozen=True)
class Checkpoint:
    step: int  # steps (VI) or iterations per chain (MCMC) done when the snapshot was taken
    work: float  # fraction of the timed run's work done by then, in (0, 1]
    sample: Callable[[int], Draws]  # n -> constrained draws from the approximation at that point


def schedule(steps: int, count: int = CHECKPOINTS, every: int = 1) -> list[int]:
    """About `count` log-spaced steps in [1, steps], multiples of `every`, always ending at `steps`."""
    if steps < 1:
        return []
    first = max(1.0, steps * FIRST_FRACTION)
    rounded = {max(every, int(round(s / every)) * every) for s in np.geomspace(first, steps, count)}
    return sorted(rounded | {steps})


def mcmc_prefixes(
    draws: Draws, chains: int, warmup: int, thin: int, work: np.ndarray | None = None, sequential: bool = False
) -> list[Checkpoint]:
    """The estimate from the first n kept draws of every chain, n on the log-spaced schedule.

    draws are chain-major (chains * kept, ...). work: per chain and iteration (warm-up included),
    the cost of each iteration (gradient evaluations), or None for equal costs. Vectorised chains
    advance in lockstep, so an iteration costs the most any chain spent on it; sequential chains
    (one after another) have the estimate only once the last chain reaches n.
    """
    kept = len(next(iter(draws.values()))) // chains
    iterations = warmup + kept * thin
    if work is None:
        work = np.ones((chains, iterations))
    work = np.asarray(work, dtype=np.float64).reshape(chains, iterations)
    if sequential:
        done_before_last = work[:-1].sum()
        cumulative = done_before_last + np.cumsum(work[-1])
    else:
        cumulative = np.cumsum(work.max(axis=0))
    total = cumulative[-1]
    by_chain = {k: np.asarray(v).reshape(chains, kept, *np.shape(v)[1:]) for k, v in draws.items()}

    def prefix(n: int) -> Callable[[int], Draws]:
        def sample(num: int) -> Draws:
            return thin_to({k: v[:, :n].reshape(chains * n, *v.shape[2:]) for k, v in by_chain.items()}, num)

        return sample

    return [
        Checkpoint(warmup + n * thin, float(cumulative[warmup + n * thin - 1] / total), prefix(n))
        for n in schedule(kept)
    ]


def vi_checkpoints(
    steps_at: list[int] | np.ndarray, taken: int, sampler_at: Callable[[int], Callable[[int], Draws]]
) -> list[Checkpoint]:
    """One checkpoint per distinct step reached (an early stop repeats the last), work = step / taken."""
    seen: set[int] = set()
    checkpoints = []
    for index, step in enumerate(int(s) for s in steps_at):
        if step in seen or not 0 < step <= taken:
            continue
        seen.add(step)
        checkpoints.append(Checkpoint(step, step / taken, sampler_at(index)))
    return checkpoints
