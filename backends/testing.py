"""Test-only methods (registered when BENCH_TEST_METHODS=1): each misbehaves in one known way.

They exercise the runner's isolation without loading a framework: a cell that raises, one
whose loss turns non-finite, one that sleeps past the timeout (touching the file BENCH_TEST_STARTED
names, if any, when it begins), one that kills its own
process, and `testing.exact`, which returns exact reference draws in a few milliseconds.
`testing.exact` times its loop for real: each step does a little arithmetic and sleeps
`sleep_per_step` seconds, the knob the regression-gate tests turn to plant a slowdown. The
fault tests add: `fpe` raises a library-style FloatingPointError with a PyTensor-sized message,
`nanparams` returns NaN parameters with a finite loss, `segfault` crashes the interpreter, and
`spawn` starts a child process and sleeps (until `sleep_s`, or until the file named by
BENCH_TEST_RELEASE exists: the hook a resumed run uses to let the cell finish at once).

The backend's runtime record declares a framework of its own, so a test can check that the harness
honours what a backend declares and nothing else: `testing.runtime` reports the worker variable
its framework sets and whether the module its record preloads was already imported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass

import numpy as np

from bench.spec.fitting import FitContext, FitResult
from bench.spec.methods import Method, not_compared
from bench.spec.runtime import BackendRuntime, Framework, WorkerSetup


@dataclass(frozen=True)
class TestSettings:
    steps: int = 10
    sleep_s: float = 600.0
    sleep_per_step: float = not_compared(
        0.0
    )  # seconds slept per timed step: a planted slowdown stands for a code change

    def __post_init__(self) -> None:
        if self.sleep_per_step < 0:
            raise ValueError("sleep_per_step must be >= 0")


def _result(problem, context: FitContext, losses: np.ndarray, run_s: list[float] | None = None) -> FitResult:
    data = problem.make_data(context.seed)
    draws = problem.reference(data).draws(np.random.default_rng(context.seed), context.draws)
    run_s = [1e-3] * context.repeats if run_s is None else run_s
    return FitResult(draws=draws, log_q=None, losses=losses, compile_s=0.0, run_s=run_s, steps=len(losses))


def _timed_loop(steps: int, sleep_per_step: float) -> float:
    """One timed repeat: per step a small matrix product (CPU work that load slows) and a sleep."""
    matrix = np.random.default_rng(0).normal(size=(40, 40))
    start = time.perf_counter()
    for _ in range(steps):
        matrix = np.tanh(matrix @ matrix.T / 40.0)
        if sleep_per_step:
            time.sleep(sleep_per_step)
    return time.perf_counter() - start


def fit_exact(problem, data, settings: TestSettings, context):
    run_s = [_timed_loop(settings.steps, settings.sleep_per_step) for _ in range(context.repeats)]
    return _result(problem, context, np.linspace(1.0, 0.0, settings.steps), run_s)


def fit_raise(problem, data, settings, context):
    raise ValueError("deliberate failure from testing.raise")


def fit_nan(problem, data, settings, context):
    losses = np.linspace(1.0, 0.0, settings.steps)
    losses[settings.steps // 2 :] = np.nan
    return _result(problem, context, losses)


def fit_sleep(problem, data, settings, context):
    started = os.environ.get("BENCH_TEST_STARTED")
    if started:  # the event a test waits for: this cell is running (its worker imported, its fit begun)
        Path(started).touch()
    time.sleep(settings.sleep_s)
    return _result(problem, context, np.zeros(settings.steps))


def fit_crash(problem, data, settings, context):
    os.kill(os.getpid(), signal.SIGKILL)


def fit_fpe(problem, data, settings, context):
    graph = " ".join(f"Elemwise{{add,no_inplace}}(node_{i}, TensorConstant{{1.0}})" for i in range(120))
    raise FloatingPointError(f"NaN occurred in optimization.\nThe current approximation of RV `f` is NaN.\n{graph}")


def fit_nanparams(problem, data, settings, context):
    result = _result(problem, context, np.linspace(1.0, 0.0, settings.steps))
    result.draws[problem.latents[0].name][:] = np.nan
    return result


def fit_segfault(problem, data, settings, context):
    import faulthandler

    faulthandler.disable()
    faulthandler._sigsegv()


def fit_spawn(problem, data, settings, context):
    marker = os.environ.get("TMPDIR", "")  # names the child, so a test can find it
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", f"{marker}/spawned-child"])
    release = os.environ.get("BENCH_TEST_RELEASE")
    deadline = time.monotonic() + settings.sleep_s
    while time.monotonic() < deadline and not (release and Path(release).exists()):
        time.sleep(0.1)
    return _result(problem, context, np.linspace(1.0, 0.0, settings.steps))


def fit_runtime(problem, data, settings, context):
    result = _result(problem, context, np.linspace(1.0, 0.0, settings.steps))
    result.info.update(runtime_env=os.environ.get(RUNTIME_VARIABLE), preloaded=PRELOAD_MARK in sys.modules)
    return result


RUNTIME_VARIABLE = "BENCH_TESTING_RUNTIME"
PRELOAD_MARK = "sched"  # a small standard module nothing else in a worker imports


def _worker_env(setup: WorkerSetup) -> dict[str, str]:
    return {RUNTIME_VARIABLE: f"{setup.device}/{setup.dtype}/threads={setup.threads}/slot={setup.slot}"}


RUNTIME = BackendRuntime(Framework("testing", worker_env=_worker_env), preload=("backends.testing", PRELOAD_MARK))

METHODS = tuple(
    Method(name=f"testing.{name}", settings=TestSettings, fit=f"backends.testing:fit_{name}", extra="test", kind="test")
    for name in ("exact", "raise", "nan", "sleep", "crash", "fpe", "nanparams", "segfault", "spawn", "runtime")
)
