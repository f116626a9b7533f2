"""Executors run cells, each in its own process, and hand records back to the driver.

The unit of work is `run_in_subprocess`: a fresh Python process with the device, dtype and
thread environment set before any framework import, a wall-clock timeout, and a record for
every outcome (a crash or a kill included). `LocalExecutor` runs `jobs` of them at a time; a
Dask executor implements the same `run` over a cluster's workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

from bench.cells import Cell
from bench.environment import PROJECT_ROOT
from bench.gpu import GPU_WORKER_ENV
from bench.worker import empty_record, run_cell

PASS_THROUGH = ("BENCH_TEST_METHODS",)


class Executor(Protocol):
    def run(self, cells: Sequence[Cell]) -> Iterator[dict[str, Any]]:
        """Yield one record per cell, in completion order."""
        ...


def worker_environment(cell: Cell, threads: int, jax_cache: Path | None, slot: int = 0) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONHASHSEED"] = "0"
    env["JAX_ENABLE_X64"] = "1" if cell.dtype == "float64" else "0"
    if cell.device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        env["JAX_PLATFORMS"] = "cuda"
        env.update(GPU_WORKER_ENV)  # JAX allocates on demand: cells may share the GPU
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, str(threads))
    if jax_cache is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = str(jax_cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
    # PyTensor: the run's dtype, and a compile directory per concurrent slot. Its directory is
    # locked while compiling, so parallel cells sharing one would serialise; cells that follow
    # each other in a slot still reuse its compiled modules (warm compiles take seconds, cold ones tens).
    flags = [f"floatX={cell.dtype}"]
    if jax_cache is not None:
        flags.append(f"compiledir={jax_cache.parent / 'pytensor' / f'slot-{slot}'}")
    env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS", ""), *flags]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def oom_kills() -> int | None:
    """The cgroup's count of out-of-memory kills (cgroup v2), to tell an OOM kill from other kills."""
    try:
        for line in Path("/sys/fs/cgroup/memory.events").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _describe_exit(returncode: int, stderr_tail: str, oom_killed: bool) -> tuple[str, str]:
    if returncode < 0:
        signame = signal.Signals(-returncode).name
        if signame == "SIGKILL" and oom_killed:
            return "oom", "worker killed by the kernel's out-of-memory killer"
        return "error", f"worker process died from signal {signame}"
    last = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else "no message"
    if "MemoryError" in last:
        return "oom", last
    return "error", f"worker exited with code {returncode}: {last}"


class _Processes:
    """The live worker processes, so an interrupted driver can kill them all. Once closed, a
    process registered late (spawned while the driver was being interrupted) is killed at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self.closed = False

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            if self.closed:
                _kill_group(proc)
            self._live.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._live.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            self.closed = True
            for proc in self._live:
                _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_in_subprocess(
    cell: Cell, timeout: float, threads: int = 1, jax_cache: Path | None = None, live: _Processes | None = None,
    slot: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """One cell, one process; always returns a record."""
    if cell.unsupported:
        return run_cell(cell)  # nothing to isolate: the record is known without running anything
    if live is not None and live.closed:
        return empty_record(cell, "skipped", "the run was interrupted before this cell started")
    start = perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cell-") as tmp:
        cell_path, out_path, log_path = Path(tmp, "cell.json"), Path(tmp, "record.json"), Path(tmp, "worker.log")
        cell_path.write_text(cell.to_json())
        kills_before = oom_kills()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", str(cell_path), str(out_path)],
                env=worker_environment(cell, threads, jax_cache, slot),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a timeout kills everything it started
            )
            if live is not None:
                live.add(proc)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                record = empty_record(cell, "timeout", f"exceeded the {timeout:g} s timeout")
                record["wall_s"] = perf_counter() - start
                return record
            finally:
                if live is not None:
                    live.discard(proc)
        if proc.returncode == 0 and out_path.exists():
            return json.loads(out_path.read_text())
        tail = log_path.read_text(errors="replace")[-4000:]
        kills_after = oom_kills()
        oom_killed = kills_before is not None and kills_after is not None and kills_after > kills_before
        status, reason = _describe_exit(proc.returncode, tail, oom_killed)
        record = empty_record(cell, status, reason)
        record["info"]["log_tail"] = tail
        record["wall_s"] = perf_counter() - start
        return record


class LocalExecutor:
    """A pool of `jobs` concurrent worker processes on this machine."""

    def __init__(self, jobs: int = 1, timeout: float = 1800.0, jax_cache: Path | None = None) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.jax_cache = jax_cache
        self.threads = max(1, (os.cpu_count() or 1) // jobs)

    def run(self, cells: Sequence[Cell]) -> Iterator[dict[str, Any]]:
        live = _Processes()
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        free_slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(self.jobs):
            free_slots.put(slot)

        def run_one(cell: Cell) -> dict[str, Any]:
            slot = free_slots.get()  # at most `jobs` cells run at once, so a slot is always free here
            try:
                return run_in_subprocess(cell, self.timeout, self.threads, self.jax_cache, live, slot)
            finally:
                free_slots.put(slot)

        pending = {pool.submit(run_one, cell) for cell in cells}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
            live.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
