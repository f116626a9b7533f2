"""Cell claims: two `bench run` on one store never run the same cell.

Before running, a driver claims its cells in one write transaction (`BEGIN IMMEDIATE`, so two
drivers claim one after the other): a cell finished meanwhile is reused, a cell another live
run holds is left to it, anything else is claimed. A claim names its run, pid and host and
carries a heartbeat (refreshed with every stored record); it is released when the cell's record
is stored or the run ends. The claim of a dead process (same host) or one whose heartbeat is
older than `STALE_S` (another host, whose pid cannot be checked) is stale and may be taken.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, UTC

from bench.execution.lifecycle import pid_alive
from bench.store import Store

STALE_S = 6 * 3600.0


@dataclass
class Claimed:
    mine: set[str] = field(default_factory=set)  # hashes this run now holds
    finished: set[str] = field(default_factory=set)  # finished by another run since planning
    elsewhere: dict[str, str] = field(default_factory=dict)  # hash -> run id of the live run holding it


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _live(pid: int, host: str, heartbeat_at: str) -> bool:
    if host == socket.gethostname():
        return pid_alive(pid)
    return datetime.now(UTC) - datetime.fromisoformat(heartbeat_at) < timedelta(seconds=STALE_S)


def claim(store: Store, run_id: str, hashes: Sequence[str], force: bool = False) -> Claimed:
    """Claim every cell not finished (unless `force`) and not held by another live run."""
    out, stamp = Claimed(), _now()
    with store.claiming():
        out.finished = set() if force else store.finished_hashes(hashes)
        for cell_hash in hashes:
            if cell_hash in out.finished or cell_hash in out.mine:
                continue
            row = store.claim_of(cell_hash)
            if row is not None and row[0] != run_id and _live(*row[1:]):
                out.elsewhere[cell_hash] = row[0]
                continue
            store.put_claim(cell_hash, run_id, os.getpid(), socket.gethostname(), stamp)
            out.mine.add(cell_hash)
    return out


def release(store: Store, run_id: str, cell_hash: str | None = None) -> None:
    """Drop this run's claim on one cell (its record is stored), or on all; refresh the heartbeat."""
    store.drop_claims(run_id, cell_hash, heartbeat_at=_now())
