"""The thread policy: one thread count for every framework in a cell's worker, set before import.

The problems here are overhead-bound (a two-moons step is ~135 kFLOP): splitting a tiny matmul
over OpenMP threads costs more than it saves, and on a shared machine the threads of one op
wait on each other (a `(980, 2) @ (2, 4)` matmul plus tanh took 3.9 ms on torch's default 2
threads, 44 us on 1). So the default is 1 thread per cell, and a run may raise it with
`--threads N` as long as threads x jobs stays within the cores.

Applied in two places: `environment(n)` goes into the worker's environment before it starts
(OpenMP, MKL, OpenBLAS and the BLAS a framework links, plus the variables each framework's runtime
record names for its own pools), and `configure_loaded(n)` runs inside the worker once the backend
is imported (the pools a framework sizes only by call). `report()` is what each framework says it
uses, kept in every record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import backends
from bench.spec.errors import BenchInputError

BLAS_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def check(threads: int, jobs: int, cores: int | None = None) -> None:
    """threads x jobs within the cores, else a one-line error naming what fits."""
    cores = cores or os.cpu_count() or 1
    if threads < 1:
        raise BenchInputError(f"--threads must be a positive number, got {threads}")
    if threads * jobs > cores:
        raise BenchInputError(
            f"--threads {threads} x --jobs {jobs} = {threads * jobs} exceeds this machine's {cores} cores; "
            f"valid: threads x jobs <= {cores} (e.g. --threads {max(1, cores // jobs)} --jobs {min(jobs, cores)})"
        )


def environment(threads: int, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a worker starts with: every BLAS/OpenMP count, and each framework's own
    (merged with what the caller had, `inherited`)."""
    env = {name: str(threads) for name in BLAS_VARIABLES}
    for framework in backends.frameworks().values():
        env.update(framework.thread_env(threads, inherited or {}))
    env["BENCH_THREADS"] = str(threads)
    return env


def framework_variables() -> tuple[str, ...]:
    """The variables the frameworks' runtime records set for their pools."""
    return tuple(dict.fromkeys(name for fw in backends.frameworks().values() for name in fw.thread_env(1, {})))


def configure_loaded(threads: int) -> None:
    """Frameworks that size their pools in-process, by call (their runtime records' thread hooks)."""
    for framework in backends.frameworks().values():
        if framework.configure_threads is not None:
            framework.configure_threads(threads)


def report() -> dict:
    """What this process's frameworks use now: the policy, each loaded framework's own report, each
    loaded native thread pool (threadpoolctl: OpenMP, OpenBLAS, MKL) and the variables set."""
    out: dict = {
        "setting": int(os.environ["BENCH_THREADS"]) if "BENCH_THREADS" in os.environ else None,
        "env": {name: os.environ.get(name) for name in (*BLAS_VARIABLES, *framework_variables())},
    }
    for name, framework in backends.frameworks().items():
        seen = framework.report_threads() if framework.report_threads is not None else None
        if seen is not None:
            out[name] = seen
    try:
        from threadpoolctl import threadpool_info

        out["native_pools"] = sorted({f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()})
    except ImportError:
        pass
    return out
