"""The Dask executor: a grid's cells as tasks on a dask.distributed cluster.

Each task calls `run_in_subprocess` on its worker, so a cell gets the same fresh process,
environment, timeout and failure classification as under the local executor. The task returns
the record as JSON text (`Record.to_json`) with the environment of the worker that ran it; the driver stays
the store's only writer. Without a scheduler address the executor starts a `LocalCluster`.
dask is imported only here, and only when this executor is chosen.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from bench.runtime import environment
from bench.records.cells import Cell
from bench.spec.errors import BenchInputError
from bench.execution.executors import Processes, run_in_subprocess
from bench.records.reasons import one_line
from bench.records.record import Record

CONNECT_TIMEOUT_S = 5.0
# A LocalCluster's scheduler: one cell per worker at a time (a lost worker then takes only the cell
# it ran), and a cell whose worker died is tried once more on another worker before it is "worker lost".
# Its workers start forked from the driver, which has imported no framework yet: a spawned worker
# re-imports the CLI and dask for seconds, and shuts down slowly (10 s of a toy grid's minute here).
# Only the start forks, while the driver runs no thread of its own; a worker the nanny restarts
# later (after a crash) is spawned, Dask's default.
LOCAL_SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0, "distributed.scheduler.allowed-failures": 1}
# The cluster's own housekeeping runs in the driver and beside every cell: its sampling profiler
# (100 stack walks a second per worker), system monitors, event-loop ticks and work stealing took
# about a tenth of these 2 cores. A LocalCluster of whole-process cells needs none of them often.
LOCAL_QUIET_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "500ms",
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.memory.monitor-interval": "1s",
}
LOCAL_START_CONFIG = {
    "distributed.worker.multiprocessing-method": "fork" if sys.platform.startswith("linux") else "spawn"
}


def _distributed():
    try:
        import distributed
    except ImportError:
        raise BenchInputError(
            "--executor dask needs dask.distributed, which is not installed: pip install 'bench[dask]'"
        ) from None
    return distributed


def lost_reason(retries: int) -> str:
    if retries <= 0:
        return "worker lost"
    return "worker lost (retried once)" if retries == 1 else f"worker lost (retried {retries} times)"


# -- on the worker ---------------------------------------------------------------------------
_LIVE: dict[str, Processes] = {}  # each run's live cell processes on this worker, for its cancellation
_LIVE_LOCK = threading.Lock()


def _live(run_token: str) -> Processes:
    with _LIVE_LOCK:
        return _LIVE.setdefault(run_token, Processes())


def kill_cells(run_token: str) -> None:
    """Kill this run's cells on this worker; its cells that start later return as skipped."""
    _live(run_token).kill_all()


@contextmanager
def host_slot(cache_dir: Path | None) -> Iterator[int]:
    """The lowest slot number free on this host, held (an flock) while the cell runs: concurrent cells
    of all the host's workers get distinct per-slot compile caches (`worker_environment` hands the slot
    to each framework's runtime record), and later cells reuse them as the local executor's slots do."""
    if cache_dir is None:
        yield 0
        return
    folder = cache_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    for slot in itertools.count():
        lock = open(folder / f"slot-{slot}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield slot
        finally:
            lock.close()  # releases the lock
        return


@cache
def _drop_nanny_environ() -> None:
    """A nanny starts its worker with thread limits of 1 and an aggressive malloc trim
    (`distributed.nanny.pre-spawn-environ`); a cell would inherit them, and its threads are the
    executor's to set, as under the local executor. Those values go, once per worker process."""
    import dask

    for name, value in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items():
        if os.environ.get(name) == str(value):
            del os.environ[name]


@cache
def _worker_environment(dtype: str, device: str, extra_json: str) -> dict:
    return environment.capture(dtype=dtype, device=device, extra=json.loads(extra_json))


def run_task(
    cell_json: str,
    timeout: float,
    threads_by_host: dict[str, int],
    cache: str | None,
    env_extra_json: str,
    run_token: str,
) -> str:
    """One cell on this worker, in its own process; the record carries the worker's environment."""
    from distributed import get_worker
    from distributed.comm import get_address_host

    worker = get_worker()
    _drop_nanny_environ()
    cell = Cell.from_json(cell_json)
    host = get_address_host(worker.address)
    # the run's thread policy (--threads, part of the cell's hash) applies on every worker; the host's
    # share of cores per running cell is recorded beside it, so oversubscription is visible
    share = threads_by_host.get(host) or max(1, (os.cpu_count() or 1) // worker.state.nthreads)
    cache_dir = Path(cache) if cache else None
    with host_slot(cache_dir) as slot:
        record = run_in_subprocess(cell, timeout, cell.threads, cache_dir, live=_live(run_token), slot=slot)
    record.info.update(executor="dask", host=socket.gethostname(), worker=worker.address, cores_share=share)
    record.environment = _worker_environment(cell.dtype, cell.device, env_extra_json)
    return record.to_json()


# -- on the driver ---------------------------------------------------------------------------
def threads_per_host(client) -> dict[str, int]:
    """Each host's cores shared among the cells its workers run at once (the sum of their nthreads),
    as the local executor shares this machine's cores among --jobs."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(os.cpu_count)
    slots: dict[str, int] = {}
    host_cores: dict[str, int] = {}
    for address, info in workers.items():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
        host_cores[info["host"]] = max(host_cores.get(info["host"], 1), cores.get(address) or 1)
    return {host: max(1, host_cores[host] // slots[host]) for host in slots}


class DaskExecutor:
    """Cells as tasks on a Dask cluster: the one at `scheduler`, or a LocalCluster of `jobs` processes."""

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        jobs: int = 1,
        timeout: float = 1800.0,
        cache_dir: Path | None = None,
        env_extra: dict | None = None,
        gpu: bool = False,
    ) -> None:
        distributed = _distributed()
        import dask

        self.timeout = timeout
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.env_extra_json = json.dumps(env_extra or {}, sort_keys=True, default=str)
        self.cluster = None
        if scheduler is None:
            with dask.config.set({**LOCAL_SCHEDULER_CONFIG, **LOCAL_QUIET_CONFIG}), dask.config.set(LOCAL_START_CONFIG):
                self.cluster = distributed.LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    resources={"GPU": 1} if gpu else None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self.cluster)
            self.client.wait_for_workers(jobs)
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise BenchInputError(
                    f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({one_line(exc)})"
                ) from None
            try:
                self._check_workers(scheduler, gpu)
            except BaseException:
                self.client.close()
                raise
        self.threads_by_host = threads_per_host(self.client)

    def _check_workers(self, scheduler: str, gpu: bool) -> None:
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError):
            raise BenchInputError(
                f"--scheduler {scheduler}: the cluster has no workers; start them with `dask worker {scheduler}`"
            ) from None
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        if gpu and not any(w.get("resources", {}).get("GPU") for w in workers):
            raise BenchInputError(
                f"--device gpu: no worker of the cluster at {scheduler} offers the GPU resource;"
                " start GPU workers with `dask worker ... --resources GPU=1`"
            )

    def run(self, cells: Sequence[Cell]) -> Iterator[Record]:
        from distributed import as_completed

        token = uuid.uuid4().hex[:12]
        cell_of: dict[Any, Cell] = {}
        pending: set = set()
        try:
            for cell in cells:
                future = self.client.submit(
                    run_task,
                    cell.to_json(),
                    self.timeout,
                    self.threads_by_host,
                    self.cache_dir,
                    self.env_extra_json,
                    token,
                    key=f"bench-cell-{cell.key}-{token}",
                    resources={"GPU": 1} if cell.device == "gpu" else None,
                )
                cell_of[future] = cell
                pending.add(future)
            for future in as_completed(list(cell_of)):
                pending.discard(future)
                yield self._record(future, cell_of[future])
        finally:
            if pending:  # interrupted: nothing more starts, and the cells running now are killed
                self.client.cancel(list(pending), force=True)
                try:
                    self.client.run(kill_cells, token)
                except Exception:
                    pass

    def _record(self, future, cell: Cell) -> Record:
        from distributed import KilledWorker
        from distributed.comm import get_address_host

        try:
            return Record.from_json(future.result())
        except KilledWorker as exc:
            address = exc.last_worker.address
            info = {"executor": "dask", "host": get_address_host(address), "worker": address}
            return Record(cell, "error", lost_reason(exc.allowed_failures), info=info)
        except Exception as exc:
            info = {"executor": "dask", "host": None}  # where it ran is not known here
            return Record(cell, "error", f"dask task failed: {one_line(exc)}", info=info)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
