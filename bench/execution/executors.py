"""Executors run cells, each in its own process, and hand records back to the driver.

The unit of work is `run_in_subprocess`: a fresh Python process with the device, dtype and
thread environment set before any framework import, a wall-clock timeout, and a record for
every outcome (a crash or a kill included). `LocalExecutor` runs `jobs` of them at a time; a
Dask executor implements the same `run` over a cluster's workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from time import monotonic, perf_counter
from typing import Protocol

import backends
import suites
from bench.execution import zygote
from bench.execution.lifecycle import cell_prefix
from bench.execution.worker import run_cell
from bench.records.cells import Cell
from bench.records.record import Record
from bench.runtime import threads as thread_policy
from bench.runtime.environment import PROJECT_ROOT
from bench.spec.runtime import WorkerSetup


class Executor(Protocol):
    def run(self, cells: Sequence[Cell]) -> Iterator[Record]:
        """Yield one record per cell, in completion order."""
        ...


def worker_environment(cell: Cell, threads: int, cache_dir: Path | None, slot: int = 0) -> dict[str, str]:
    """A cell's worker environment: the device, the thread policy (the same for every backend), and
    each registered framework's own variables from its runtime record (dtype, device, compile caches
    under `cache_dir`, a folder each). Every framework's, whichever the cell runs: one environment per
    device, dtype and slot, so a slot's fork server serves every backend."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONHASHSEED"] = "0"
    if cell.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    env.update(thread_policy.environment(threads, env))
    setup = WorkerSetup(cell.device, cell.dtype, threads, cache_dir, slot, inherited=dict(env))
    for framework in backends.frameworks().values():
        env.update(framework.worker_env(setup))
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


class Processes:
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
    cell: Cell,
    timeout: float,
    threads: int = 1,
    cache_dir: Path | None = None,
    live: Processes | None = None,
    slot: int = 0,
    zygotes: zygote.Zygotes | None = None,
) -> Record:
    """One cell, one process; always returns a record. The process is forked from this slot's
    zygote (bench.execution.zygote: the framework imported once per slot) or, where that is off or not
    safe, spawned as a fresh interpreter."""
    if cell.unsupported or cell.failed:
        return run_cell(cell)  # nothing to isolate: the record is known without running anything
    if live is not None and live.closed:
        return Record(cell, "skipped", "the run was interrupted before this cell started")
    start = perf_counter()
    deadline = monotonic() + timeout
    env = worker_environment(cell, threads, cache_dir, slot)
    with tempfile.TemporaryDirectory(prefix=cell_prefix()) as tmp:
        cell_path, out_path, log_path = Path(tmp, "cell.json"), Path(tmp, "record.json"), Path(tmp, "worker.log")
        cell_path.write_text(cell.to_json())
        kills_before = oom_kills()
        returncode = _run_forked(cell, env, (cell_path, out_path, log_path), deadline, live, zygotes or zygote.POOL)
        if returncode is _SPAWN:
            returncode = _run_spawned(env, (cell_path, out_path, log_path), deadline, live)
        if returncode is None:
            return Record(cell, "timeout", f"exceeded the {timeout:g} s timeout", wall_s=perf_counter() - start)
        if returncode == 0 and out_path.exists():
            record = Record.from_json(out_path.read_text())
            # process start, imports and the record's hand-back: the cell's wall as seen from here, less its own
            record.info.setdefault("phases", {})["start"] = max(0.0, perf_counter() - start - record.wall_s)
            return record
        tail = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
        kills_after = oom_kills()
        oom_killed = kills_before is not None and kills_after is not None and kills_after > kills_before
        status, reason = _describe_exit(returncode, tail, oom_killed)
        return Record(cell, status, reason, info={"log_tail": tail}, wall_s=perf_counter() - start)


_SPAWN = object()  # _run_forked's answer when the cell must run in a spawned interpreter instead


def _run_forked(
    cell: Cell,
    env: dict[str, str],
    paths: tuple[Path, Path, Path],
    deadline: float,
    live: Processes | None,
    pool: zygote.Zygotes,
) -> int | None | object:
    """The cell forked from a zygote: its exit code, None on timeout (its group killed), or _SPAWN."""
    if not zygote.enabled():
        return _SPAWN
    started = monotonic()
    cell_path, out_path, log_path = paths
    preload = (
        *backends.runtime_of(cell.method).preload_for(backends.get_method(cell.method).fit.split(":")[0]),
        *_task_modules(cell.problem),
    )
    if not pool.may_fork(env, preload):
        return _SPAWN
    try:
        server = pool.checkout(env, Path(tempfile.gettempdir()))
    except OSError:  # no zygote could start (out of processes or memory): spawn this cell
        return _SPAWN
    request = {"cell": str(cell_path), "out": str(out_path), "log": str(log_path), "preload": list(preload)}
    child = None
    try:
        # The zygote's own start and imports, paid once per slot, have a grace beyond the cell's
        # timeout; the timeout itself runs from the fork, as a spawned cell's from its start.
        pid = server.fork(request, deadline + zygote.START_GRACE_S)
        if pid is None:
            pool.retire(server)
            return None
        child = zygote.Child(pid)
        if live is not None:
            live.add(child)
        returncode = server.wait(monotonic() + (deadline - started))
        if returncode is None:
            _kill_group(child)
            server.wait(None)  # the zygote reaps it and reports the kill
    except zygote.ZygoteGone as exc:
        if child is not None:
            _kill_group(child)
        pool.retire(server, unsafe=preload if exc.unsafe else None)
        if child is None:  # nothing of the cell ran: it runs in a spawned interpreter instead
            return _SPAWN
        return -signal.SIGKILL  # the zygote died under a running cell (the kernel's OOM killer, say)
    finally:
        if live is not None and child is not None:
            live.discard(child)
        if child is not None:
            _kill_group(child)  # whatever the cell started and left running dies with it
    if returncode == 0:
        pool.give_back(server)
    else:
        pool.retire(server)  # after any failure the next cell gets a new zygote
    return returncode


def _task_modules(problem: str) -> tuple[str, ...]:
    """What a cell of this problem's task imports beyond every cell's harness (zygote.TASK_MODULES)."""
    try:
        task = suites.declaration(problem).task  # the declaration: a model problem is not built here
    except Exception:  # an unregistered problem: its cell fails in the worker, with the reason
        return ()
    return zygote.TASK_MODULES.get(task, ())


def _run_spawned(
    env: dict[str, str], paths: tuple[Path, Path, Path], deadline: float, live: Processes | None
) -> int | None:
    """The cell in a fresh interpreter: its exit code, or None on timeout (its group killed)."""
    cell_path, out_path, log_path = paths
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.execution.worker", str(cell_path), str(out_path)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: a timeout kills everything it started
        )
        if live is not None:
            live.add(proc)
        try:
            proc.wait(timeout=max(0.0, deadline - monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            return None
        finally:
            if live is not None:
                live.discard(proc)
            _kill_group(proc)  # whatever the worker started and left running dies with it
    return proc.returncode


class LocalExecutor:
    """A pool of `jobs` concurrent worker processes on this machine."""

    def __init__(self, jobs: int = 1, timeout: float = 1800.0, cache_dir: Path | None = None) -> None:
        self.jobs = jobs
        self.timeout = timeout
        self.cache_dir = cache_dir
        self.on_start: Callable[[Cell], None] | None = None  # told when a cell's process starts (progress)

    def run(self, cells: Sequence[Cell]) -> Iterator[Record]:
        live = Processes()
        zygotes = zygote.Zygotes()  # one per slot and environment, for this run only
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        free_slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(self.jobs):
            free_slots.put(slot)

        def run_one(cell: Cell) -> Record:
            slot = free_slots.get()  # at most `jobs` cells run at once, so a slot is always free here
            try:
                if self.on_start is not None and not cell.unsupported:
                    self.on_start(cell)
                return run_in_subprocess(cell, self.timeout, cell.threads, self.cache_dir, live, slot, zygotes)
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
            zygotes.close()
