"""Worker processes live and die with their driver, and leave no temporary folder behind.

A worker is its own process group (the executor starts it in a new session), so a kill of the
group takes whatever it started too. If the driver dies without killing it (SIGKILL, an OOM
kill), the worker notices that it was re-parented, removes its cell's temporary folder and kills
its group. Cell folders carry the driver's pid in their name, so a run sweeps away the folders
of drivers that are gone (the worker may have died first, or never started).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

CELL_PREFIX = "bench-cell-"
POLL_S = 0.2


def cell_prefix() -> str:
    """The temporary-folder prefix of this driver's cells: bench-cell-<pid>-."""
    return f"{CELL_PREFIX}{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def sweep_orphans(root: Path | None = None) -> list[Path]:
    """Remove cell folders whose driver is no longer alive; returns what it removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{CELL_PREFIX}*-*"):
        pid = _driver_pid(folder)
        if pid is not None and pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _end(folder: Path | None) -> None:
    if folder is not None and folder.name.startswith(CELL_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
    if os.getpgrp() == os.getpid():  # a group leader: take every process this worker started
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _driver_pid(folder: Path | None) -> int | None:
    """The driver's pid from a cell folder's name (bench-cell-<pid>-...), if it has one."""
    if folder is None or not folder.name.startswith(CELL_PREFIX):
        return None
    pid = folder.name[len(CELL_PREFIX) :].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def die_with_parent(folder: Path | None = None) -> None:
    """Watch the parent from a daemon thread; when it is gone (re-parented, or the driver named by
    the folder is dead: it may have died before this process looked), clean `folder` and kill this
    group. A parent of pid 1 is not taken for a dead one: in a container the driver may be pid 1."""
    parent, driver = os.getppid(), _driver_pid(folder)

    def gone() -> bool:
        return os.getppid() != parent or (driver is not None and not pid_alive(driver))

    if gone():
        _end(folder)

    def watch() -> None:
        while True:
            time.sleep(POLL_S)
            if gone():
                _end(folder)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def incomplete_runs(store: Path, run_ids: list[str] | None = None, spec: str | None = None) -> list[str]:
    """Runs with records but no `finished_at`: killed, interrupted or still running. Limited to
    `run_ids`, or to the runs `spec` names (a run id or tag; latest and previous: all)."""
    from bench import store as stored

    found = stored.incomplete_runs(store, None if spec in ("latest", "previous") else spec)
    return [r for r in found if run_ids is None or r in set(run_ids)]


def incomplete_warning(store: Path, runs: list[str]) -> str | None:
    """One line for the reader of a report or comparison, or None when every run finished."""
    if not runs:
        return None
    shown = ", ".join(runs[:5]) + (f" and {len(runs) - 5} more" if len(runs) > 5 else "")
    return (
        f"warning: {len(runs)} run(s) in {store} never finished (killed, interrupted or still running): "
        f"{shown}; cells they did not reach are missing"
    )


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM stop a run cleanly (workers killed, finished cells kept). Installed
    explicitly: a shell starts background jobs with SIGINT ignored, and CI cancels with SIGTERM."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
