"""The driver: the only writer of the store. It skips finished cells, runs the rest, stores records."""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.execution import claims
from bench.runtime import environment
from bench.execution import lifecycle
from bench.records.cells import Cell
from bench.execution.executors import Executor
from bench.records.record import Record, now
from bench.store import Store, StoreError


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    ran: int
    reused: int
    statuses: dict[str, int]
    elsewhere: dict[str, int] = field(default_factory=dict)  # run id -> cells left to that live run
    recorded: bool = True  # False: nothing ran and nothing new was named, so no run was kept


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def execute(
    cells: Sequence[Cell],
    store_path: Path,
    executor: Executor,
    force: bool = False,
    tag: str | None = None,
    command: str = "",
    env_extra: dict[str, Any] | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunOutcome:
    """Run every cell not already finished with the same hash and not claimed by another live run;
    each record is committed on arrival."""
    lifecycle.sweep_orphans()  # cell folders of drivers killed before their workers could clean up
    store = Store(store_path, create=True)
    try:
        done = set() if force else store.finished_hashes(c.hash for c in cells)
        todo = [c for c in cells if c.hash not in done]
        device, dtype = (cells[0].device, cells[0].dtype) if cells else ("cpu", "float32")
        env = environment.capture(dtype=dtype, device=device, extra=env_extra)
        run_id = new_run_id()
        store.begin_run(run_id, now(), command, tag, env, environment.environment_id(env))
        reused = store.reused_record_ids(c.hash for c in cells if c.hash in done)
        store.add_reused(run_id, reused)  # the run holds its reused cells: its tag names all of them
        held = claims.claim(store, run_id, [c.hash for c in todo], force=force)
        todo = [c for c in todo if c.hash in held.mine]
        statuses: dict[str, int] = {}
        records = executor.run(todo)
        try:
            for record in records:
                start = perf_counter()
                note_provenance(store, record)
                record_id = store.add_record(run_id, record.clip_reason())
                store.add_phase(record_id, "store_write", perf_counter() - start)
                claims.release(store, run_id, record.hash)
                statuses[record.status] = statuses.get(record.status, 0) + 1
                if on_record is not None:
                    on_record(record)
        finally:
            # An interrupt outside the generator (while storing a record, say) would otherwise leave
            # it alive, its workers running and its pool joined at exit: close it here, always.
            records.close()
            with contextlib.suppress(StoreError):  # a full disk: the claims are stale once we exit
                claims.release(store, run_id)
        store.finish_run(run_id, now())
        # A re-run that changed nothing keeps no run: unless it names its reused cells with a new tag.
        recorded = bool(statuses) or (
            tag is not None and bool(reused) and not store.tag_covers(tag, reused, other_than=run_id)
        )
        if not recorded:
            store.drop_run(run_id)
        elsewhere: dict[str, int] = {}
        for other in held.elsewhere.values():
            elsewhere[other] = elsewhere.get(other, 0) + 1
        return RunOutcome(
            run_id=run_id,
            ran=len(todo),
            reused=len(cells) - len(todo) - len(held.elsewhere),
            statuses=statuses,
            elsewhere=elsewhere,
            recorded=recorded,
        )
    finally:
        store.close()


def note_provenance(store: Store, record: Record) -> None:
    """Where a record ran: its executor and host (this machine unless the executor says otherwise),
    and the environment of the worker that ran it where the record brings one (a cluster's do), so a
    comparison sees the worker's hardware rather than the driver's."""
    record.info.setdefault("executor", "local")
    record.info.setdefault("host", socket.gethostname())
    worker_env, record.environment = record.environment, None
    if worker_env is not None:
        record.info["env_id"] = environment.environment_id(worker_env)
        store.add_environment(record.info["env_id"], worker_env)
