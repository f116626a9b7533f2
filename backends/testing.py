"""Test-only methods (registered when BENCH_TEST_METHODS=1): each misbehaves in one known way.

They exercise the runner's isolation without loading a framework: a cell that raises, one
whose loss turns non-finite, one that sleeps past the timeout, one that kills its own
process, and `testing.exact`, which returns exact reference draws in a few milliseconds.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import numpy as np

from bench.spec.fitting import FitContext, FitResult, time_repeats
from bench.spec.methods import Method


@dataclass(frozen=True)
class TestSettings:
    steps: int = 10
    sleep_s: float = 600.0  # testing.sleep: how long to sleep (past the timeout)
    sleep_per_step: float = 0.0  # testing.exact: a deliberate slowdown, seconds per step of each timed repeat


def _result(problem, context: FitContext, losses: np.ndarray, run_s: list[float] | None = None) -> FitResult:
    data = problem.make_data(context.seed)
    draws = problem.reference(data).draws(np.random.default_rng(context.seed), context.draws)
    run_s = [1e-3] * context.repeats if run_s is None else run_s
    return FitResult(draws=draws, log_q=None, losses=losses, compile_s=0.0, run_s=run_s, steps=len(losses))


def fit_exact(problem, data, settings: TestSettings, context):
    losses = np.linspace(1.0, 0.0, settings.steps)
    if not settings.sleep_per_step:
        return _result(problem, context, losses)
    run_s = time_repeats(lambda: time.sleep(settings.sleep_per_step * settings.steps), lambda out: out, context.repeats)[1]
    return _result(problem, context, losses, run_s)


def fit_raise(problem, data, settings, context):
    raise ValueError("deliberate failure from testing.raise")


def fit_nan(problem, data, settings, context):
    losses = np.linspace(1.0, 0.0, settings.steps)
    losses[settings.steps // 2 :] = np.nan
    return _result(problem, context, losses)


def fit_sleep(problem, data, settings, context):
    time.sleep(settings.sleep_s)
    return _result(problem, context, np.zeros(settings.steps))


def fit_crash(problem, data, settings, context):
    os.kill(os.getpid(), signal.SIGKILL)


METHODS = tuple(
    Method(name=f"testing.{name}", settings=TestSettings, fit=f"backends.testing:fit_{name}", extra="test", kind="test")
    for name in ("exact", "raise", "nan", "sleep", "crash")
)
