"""The thread policy: one thread count for every framework in a cell's worker, set before import.

The problems here are overhead-bound (a two-moons step is ~135 kFLOP): splitting a tiny matmul
over OpenMP threads costs more than it saves, and on a shared machine the threads of one op
wait on each other (a `(980, 2) @ (2, 4)` matmul plus tanh took 3.9 ms on torch's default 2
threads, 44 us on 1). So the default is 1 thread per cell, and a run may raise it with
`--threads N` as long as threads x jobs stays within the cores.

Applied in two places: `environment(n)` goes into the worker's environment before it starts
(OpenMP, MKL, OpenBLAS and the BLAS PyTensor links, XLA's Eigen threads), and `configure_loaded(n)`
runs inside the worker once the backend is imported (torch's intra- and inter-op pools, which
torch sizes by itself). `report()` is what each framework says it uses, kept in every record.
"""

from __future__ import annotations

import os
import sys

from bench.spec.errors import BenchInputError

DEFAULT_THREADS = 1
BLAS_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                  "NUMEXPR_NUM_THREADS")  # fmt: skip
SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false"  # XLA:CPU has no flag for N > 1 threads: its pool is sized by cores


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


def environment(threads: int, xla_flags: str | None = None) -> dict[str, str]:
    """The variables a worker starts with: every BLAS/OpenMP count, and XLA's flags (merged with
    any the caller had, its own Eigen setting replaced)."""
    env = {name: str(threads) for name in BLAS_VARIABLES}
    flags = [f for f in (xla_flags or "").split() if not f.startswith("--xla_cpu_multi_thread_eigen")]
    if threads == 1:
        flags.append(SINGLE_THREAD_XLA)
    env["XLA_FLAGS"] = " ".join(flags)
    env["BENCH_THREADS"] = str(threads)
    return env


def configure_loaded(threads: int) -> None:
    """Frameworks that size their pools in-process: torch (intra-op from OMP_NUM_THREADS already;
    inter-op only by call, and only before its first parallel work)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # inter-op work already ran in this process; report() shows what stands
            pass


def report() -> dict:
    """What this process's frameworks use now: the policy, torch's pools, each loaded native
    thread pool (threadpoolctl: OpenMP, OpenBLAS, MKL), XLA's flags, PyTensor's BLAS."""
    out: dict = {"setting": int(os.environ["BENCH_THREADS"]) if "BENCH_THREADS" in os.environ else None,
                 "env": {name: os.environ.get(name) for name in (*BLAS_VARIABLES, "XLA_FLAGS")}}  # fmt: skip
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    try:
        from threadpoolctl import threadpool_info

        out["native_pools"] = sorted({f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()})
    except ImportError:
        pass
    pytensor = sys.modules.get("pytensor")
    if pytensor is not None:
        out["pytensor"] = {"blas__ldflags": pytensor.config.blas__ldflags, "openmp": bool(pytensor.config.openmp)}
    return out
