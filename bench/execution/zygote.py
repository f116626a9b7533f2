"""A pre-importing fork server per worker slot: a fresh process per cell, the framework imported once.

Importing a framework costs seconds, and a cell of a small problem measures about as much. A
zygote is a long-lived `python -m bench.execution.zygote` started with a cell's worker environment
(device, dtype, threads, caches: everything set before any import). It imports the harness and what
the cell's backend's runtime record lets it preload (the fit module, by default), never touching a
device, a compiled function or a thread pool, then forks one child per cell. The child starts a
session of its own (a timeout kills its whole process group), sends its output to the cell's log
and runs `bench.execution.worker` exactly as a spawned process would: no backend initialised, no
compiled function in memory, so `compile_s` is still what a user's first call costs. A crash,
timeout or OOM kills only the child; the executor then retires the zygote and the next cell gets a
new one. Where the imports started a thread or initialised a backend (each framework's record says
how to tell), forking would not be safe: the zygote says so and the executor spawns.

Protocol, one JSON object a line: the zygote writes {"ready": ...} once, then for each request
{"cell", "out", "log", "preload"} it answers {"pid"} (or {"unsafe": why}) and later {"exit": code}
(Popen's convention: minus the signal number for a signal).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from time import monotonic
from typing import Any

import backends

# What every cell imports whatever its framework: the worker, scoring, the registries.
HARNESS_MODULES = (
    "numpy",
    "scipy.stats",
    "arviz_stats.base",
    "bench.execution.worker",
    "bench.scoring.fit_metrics",
    "bench.scoring.diagnostics",
    "bench.scoring.checkpoints",
    "bench.scoring.figure_data",
    "bench.spec.fitting",
    "backends",
    "suites",
)
# What a cell of a task adds (scikit-learn: a second and more to import, and no density cell uses it).
TASK_MODULES = {"classification": ("sklearn.metrics",)}
DISABLE_ENV = "BENCH_NO_ZYGOTE"
START_GRACE_S = 300.0  # how long a zygote may take to start and import, beyond a cell's own timeout  # "1": spawn a fresh interpreter per cell, as before zygotes


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV) != "1" and hasattr(os, "fork") and sys.platform.startswith("linux")


def die_with_parent() -> None:
    """Linux: SIGKILL this process when the thread that started it exits (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# The zygote's side (python -m bench.execution.zygote)


# Threads a clean fork may inherit: OpenBLAS's pool (numpy starts it at import; it stops and
# restarts itself around a fork), counted once the harness is imported, and jemalloc's background
# thread (a framework's imports may bring it; jemalloc re-initialises in the child).
ALLOWED_THREADS = ("jemalloc_bg_thd",)
_BASELINE_THREADS = [1]


def _os_threads() -> int:
    try:
        names = [Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")]
    except OSError:
        return threading.active_count()
    return sum(name not in ALLOWED_THREADS for name in names)


def fork_safety() -> str:
    """Why forking now would not give a clean process ("" when it would): each framework's own check
    (its runtime record's fork hazard: a device backend initialised, say), then threads."""
    for framework in backends.frameworks().values():
        hazard = framework.fork_hazard() if framework.fork_hazard is not None else ""
        if hazard:
            return hazard
    if threading.active_count() > 1:
        return f"the imports started {threading.active_count() - 1} Python thread(s)"
    extra = _os_threads() - _BASELINE_THREADS[0]
    if extra > 0:
        return f"the imports started {extra} thread(s)"
    return ""


def _preload(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _send(channel, payload: dict[str, Any]) -> None:
    channel.write(json.dumps(payload) + "\n")
    channel.flush()


def _become_cell(request: dict[str, Any]) -> None:
    """In the forked child: a session of its own, output to the cell's log, then the worker. Never returns."""
    code = 1
    try:
        os.setsid()
        # no parent-death signal here: bench.execution.worker's watch (bench.execution.lifecycle) notices a dead driver
        # or zygote, removes the cell's folder and kills the cell's whole group, its children too
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        from bench.execution.worker import main

        code = main([request["cell"], request["out"]])
        # Exit without tearing the interpreter down: finalising every inherited module and object
        # touches every shared page (copy on write) and cost seconds. Exit handlers still run.
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """The zygote's loop: one forked child per request, until stdin closes."""
    channel = os.fdopen(os.dup(1), "w")  # replies go here; stray prints of imports go to the log
    os.dup2(2, 1)
    die_with_parent()
    _preload(HARNESS_MODULES)
    _BASELINE_THREADS[0] = _os_threads()
    gc.freeze()  # what is imported now stays out of the children's collections: fewer copied pages
    _send(channel, {"ready": True, "unsafe": fork_safety()})
    for line in sys.stdin:
        request = json.loads(line)
        _preload(request.get("preload", ()))
        gc.freeze()
        unsafe = fork_safety()
        if unsafe:
            _send(channel, {"unsafe": unsafe})
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _become_cell(request)  # never returns
        _send(channel, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        _send(channel, {"exit": os.waitstatus_to_exitcode(status)})
    return 0


# ---------------------------------------------------------------------------------------------
# The executor's side


class ZygoteGone(Exception):
    """The zygote died (unsafe False) or cannot fork safely (unsafe True)."""

    def __init__(self, message: str, unsafe: bool = False) -> None:
        super().__init__(message)
        self.unsafe = unsafe


class Zygote:
    """One zygote process and its line-based channel."""

    def __init__(self, env: dict[str, str], key: str, log_path: Path) -> None:
        self.key = key
        self.log_path = log_path
        self._buffer = b""
        # The zygote's log is read through this open file only: its name is removed at once, so a
        # driver killed outright leaves no file behind (the kernel frees it with the last descriptor).
        self._log = open(log_path, "w+b")
        log_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.execution.zygote"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        self.ready = False

    def _line(self, deadline: float | None) -> dict[str, Any] | None:
        """The next reply; None when the deadline passed first; ZygoteGone when the zygote died."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = None if deadline is None else deadline - monotonic()
            if left is not None and left <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ZygoteGone(f"the zygote exited ({self._log_tail()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _log_tail(self) -> str:
        try:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            return "no log"
        return lines[-1] if lines else "no message"

    def fork(self, request: dict[str, Any], deadline: float) -> int | None:
        """Start one cell; its pid, or None when the deadline passed before it started."""
        if not self.ready:
            reply = self._line(deadline)
            if reply is None:
                return None
            if reply.get("unsafe"):
                raise ZygoteGone(f"cannot fork safely: {reply['unsafe']}", unsafe=True)
            self.ready = True
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ZygoteGone(f"the zygote exited ({exc})") from None
        reply = self._line(deadline)
        if reply is None:
            return None
        if "unsafe" in reply:
            raise ZygoteGone(f"cannot fork safely: {reply['unsafe']}", unsafe=True)
        return int(reply["pid"])

    def wait(self, deadline: float | None) -> int | None:
        """The child's exit code, or None when the deadline passed first."""
        reply = self._line(deadline)
        return None if reply is None else int(reply["exit"])

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()


class Zygotes:
    """Idle zygotes by environment. A caller checks one out for a cell and gives it back after a
    clean exit, or retires it after any failure; concurrent callers never share one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = itertools.count()
        self._idle: dict[str, list[Zygote]] = {}
        self._all: set[Zygote] = set()
        self._unsafe: set[tuple[str, tuple[str, ...]]] = set()  # (environment, preload) that cannot fork

    @staticmethod
    def _key(env: dict[str, str]) -> str:
        return json.dumps(env, sort_keys=True)

    def may_fork(self, env: dict[str, str], preload: Sequence[str]) -> bool:
        return (self._key(env), tuple(preload)) not in self._unsafe

    def checkout(self, env: dict[str, str], folder: Path) -> Zygote:
        key = self._key(env)
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        log = Path(folder, f"bench-zygote-{os.getpid()}-{next(self._count)}.log")
        zygote = Zygote(env, key, log)
        with self._lock:
            self._all.add(zygote)
        return zygote

    def give_back(self, zygote: Zygote) -> None:
        with self._lock:
            if zygote in self._all and zygote.proc.poll() is None:
                self._idle.setdefault(zygote.key, []).append(zygote)
                return
        self.retire(zygote)

    def retire(self, zygote: Zygote, unsafe: Sequence[str] | None = None) -> None:
        """Stop a zygote; `unsafe`: the preload it could not fork after, never to be tried again."""
        with self._lock:
            if unsafe is not None:
                self._unsafe.add((zygote.key, tuple(unsafe)))
            self._all.discard(zygote)
            for idle in self._idle.values():
                if zygote in idle:
                    idle.remove(zygote)
        zygote.close()

    def close(self) -> None:
        with self._lock:
            zygotes, self._all, self._idle = list(self._all), set(), {}
        for zygote in zygotes:
            zygote.close()


POOL = Zygotes()  # this process's zygotes, for callers that bring no pool of their own (a Dask worker)
atexit.register(POOL.close)


class Child:
    """What the executor's list of live processes needs of a forked cell: its pid (= its group)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


if __name__ == "__main__":
    sys.exit(serve())
