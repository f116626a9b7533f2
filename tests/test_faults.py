"""Every fault survived: a failing, crashing, hanging or killed cell, a killed or interrupted
driver, a full disk and two drivers on one store. In each, every cell is recorded at most once
(exactly once after a resume), the store stays intact, and no process or temporary folder is left.

Real processes throughout; the test methods (backends/testing.py) misbehave in known ways within
milliseconds, so only process start-up costs time. Each driver gets its own TMPDIR, which names
its cells' folders and every process they start: what must be gone afterwards is easy to find.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.records.reasons import REASON_LIMIT

GRID = ["--suite", "toy", "--repeats", "1", "--draws", "200", "--no-compile-cache"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    (tmp / "tmp").mkdir(exist_ok=True)
    return dict(os.environ, BENCH_TEST_METHODS="1", TMPDIR=str(tmp / "tmp"), **extra)


def bench(*args: str, tmp: Path, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=tmp,
        env=_env(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, tmp: Path, preexec_fn=None, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=tmp,
        env=_env(tmp, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def processes(marker: str) -> list[int]:
    """Live processes (not zombies) whose command line mentions `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate, what: str, limit: float = 300) -> None:
    """Poll until `predicate()` holds; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def records(store: Path) -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(store)
    try:
        return con.execute("SELECT cell_key, status, reason, info FROM records ORDER BY record_id").fetchall()
    finally:
        con.close()


def statuses(store: Path) -> dict[str, str]:
    rows = records(store)
    keys = [row[0] for row in rows]
    assert len(keys) == len(set(keys)), f"a cell recorded twice: {keys}"
    named = {}
    for key, status, _, _ in rows:  # "toy/gamma|testing.exact|seed=0|cpu|float32" -> "gamma testing.exact"
        problem, method, seed = key.split("|")[:3]
        named[f"{problem.split('/')[1]} {method}" + ("" if seed == "seed=0" else f" {seed}")] = status
    return named


def assert_intact(store: Path) -> None:
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def assert_nothing_left(tmp: Path) -> None:
    """No worker or worker child alive and no cell folder left (the markers name TMPDIR)."""
    marker = str(tmp / "tmp")
    wait_for(lambda: not processes(marker), "the workers and their children to die", limit=120)
    assert sorted(p.name for p in (tmp / "tmp").iterdir()) == []


def test_each_failure_is_one_row_and_the_grid_goes_on(tmp_path):
    store = tmp_path / "s.sqlite"
    methods = "testing.exact,testing.raise,testing.nan,testing.crash,testing.segfault,testing.fpe,testing.nanparams"
    result = bench(
        "run", *GRID, "--problems", "coinflip", "--methods", methods, "--jobs", "2", "--store", str(store), tmp=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert statuses(store) == {
        "coinflip testing.exact": "ok",
        "coinflip testing.raise": "error",
        "coinflip testing.nan": "diverged",
        "coinflip testing.crash": "error",
        "coinflip testing.segfault": "error",
        "coinflip testing.fpe": "diverged",
        "coinflip testing.nanparams": "diverged",
    }
    reasons = {key.split("|")[1]: (reason, json.loads(info)) for key, _, reason, info in records(store)}
    assert "ValueError: deliberate failure" in reasons["testing.raise"][0]
    assert "non-finite at step 6" in reasons["testing.nan"][0]
    assert "SIGKILL" in reasons["testing.crash"][0] and "SIGSEGV" in reasons["testing.segfault"][0]
    assert "non-finite values" in reasons["testing.nanparams"][0]
    fpe, info = reasons["testing.fpe"]
    assert fpe.startswith("FloatingPointError: NaN occurred in optimization.")
    for reason, _ in reasons.values():
        assert len(reason) <= REASON_LIMIT and "\n" not in reason
    assert len(info["reason_full"]) > 5000 and "node_119" in info["reason_full"]  # the full text is kept
    assert_intact(store)
    assert_nothing_left(tmp_path)


def test_timeout_is_a_row(tmp_path):
    store = tmp_path / "s.sqlite"
    result = bench(
        "run",
        *GRID,
        "--problems",
        "gamma",
        "--methods",
        "testing.sleep",
        "--timeout",
        "2",
        "--store",
        str(store),
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert statuses(store) == {"gamma testing.sleep": "timeout"}
    assert "exceeded the 2 s timeout" in records(store)[0][2]
    assert_nothing_left(tmp_path)


def test_worker_killed_from_outside_is_a_row_and_its_children_die(tmp_path):
    store = tmp_path / "s.sqlite"
    driver = start(
        "run",
        *GRID,
        "--problems",
        "gamma",
        "--methods",
        "testing.spawn,testing.exact",
        "--store",
        str(store),
        tmp=tmp_path,
    )
    child = str(tmp_path / "tmp" / "spawned-child")
    wait_for(lambda: processes(child), "the worker's child to start")
    # the worker is the child's parent (a forked cell's command line is its zygote's, not the cell's)
    (spawned,) = processes(child)
    worker = int(Path(f"/proc/{spawned}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(worker, signal.SIGKILL)
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    assert statuses(store) == {"gamma testing.spawn": "error", "gamma testing.exact": "ok"}
    assert "died from signal SIGKILL" in records(store)[0][2]
    assert_intact(store)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    "signum, code", [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)], ids=["SIGKILL", "SIGINT"]
)
def test_killed_driver_leaves_nothing_and_resumes_exactly(tmp_path, signum, code):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        *GRID,
        "--problems",
        "gamma",
        "--methods",
        "testing.exact,testing.spawn,testing.nan",
        "--store",
        str(store),
    ]
    driver = start(*args, tmp=tmp_path)
    child = str(tmp_path / "tmp" / "spawned-child")
    wait_for(lambda: processes(child), "the second cell's worker to start its child")
    wait_for(lambda: store.exists() and statuses(store), "the first cell's record")
    assert statuses(store) == {"gamma testing.exact": "ok"}
    driver.send_signal(signum)
    driver.communicate(timeout=120)
    assert driver.returncode == code
    assert_nothing_left(tmp_path)  # the worker noticed its driver died (or was killed by it), its child too
    assert_intact(store)
    assert statuses(store) == {"gamma testing.exact": "ok"}

    report = bench("report", "--store", str(store), "--format", "summary", tmp=tmp_path)
    assert report.returncode == 0 and "| gamma | testing.exact |" in report.stdout
    assert len(report.stderr.splitlines()) == 1 and "1 run(s)" in report.stderr and "never finished" in report.stderr
    compare = bench("compare", str(store), str(store), tmp=tmp_path)
    assert compare.returncode == 0 and "never finished" in compare.stderr and len(compare.stderr.splitlines()) == 1

    release = tmp_path / "release"
    release.touch()  # the resumed spawn cell returns at once
    resumed = bench(*args, tmp=tmp_path, BENCH_TEST_RELEASE=str(release))
    assert resumed.returncode == 0, resumed.stderr
    assert "ran 2 (1 diverged, 1 ok), reused 1 finished cells" in resumed.stdout
    assert statuses(store) == {
        "gamma testing.exact": "ok",
        "gamma testing.spawn": "ok",
        "gamma testing.nan": "diverged",
    }
    assert_nothing_left(tmp_path)


def _mount_tmpfs(folder: Path, size: int) -> bool:
    """A small tmpfs on `folder` (root only): a full disk for the store's folder alone."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )


def test_full_disk_stops_the_run_with_one_line_and_keeps_the_store(tmp_path):
    seed = tmp_path / "seed.sqlite"
    first = bench("run", *GRID, "--problems", "gamma", "--methods", "testing.exact", "--store", str(seed), tmp=tmp_path)
    assert first.returncode == 0, first.stderr
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount_tmpfs(disk, seed.stat().st_size + 8192)  # the store, its journal and a page or two
    limit = seed.stat().st_size  # without a tmpfs: no file may grow past the store's size
    store = disk / "s.sqlite" if mounted else seed
    if mounted:
        shutil.copy(seed, store)

    def small_disk() -> None:  # without a tmpfs: every file the driver (and its workers) write is capped
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    try:
        args = [
            "run",
            *GRID,
            "--problems",
            "coinflip,banana,gaussian2d",
            "--methods",
            "testing.exact",
            "--store",
            str(store),
        ]
        full = start(*args, tmp=tmp_path, preexec_fn=None if mounted else small_disk)
        out, err = full.communicate(timeout=600)
        assert full.returncode == 1, (out, err)
        assert (
            len(err.splitlines()) == 1 and err.startswith("error: store write failed") and "run again to resume" in err
        )
        assert "Traceback" not in out + err
        assert_intact(store)
        kept = statuses(store)
        assert kept["gamma testing.exact"] == "ok" and len(kept) < 4
        for key, status, reason, _ in records(store):  # a worker under the size cap may fail to write its record
            assert status == "ok" or "File too large" in reason, (key, status, reason)
        assert_nothing_left(tmp_path)

        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # space freed
        resumed = bench(*args, tmp=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        ok_before = sum(status == "ok" for status in kept.values()) - 1  # gamma is not in this grid
        assert f"reused {ok_before} finished cells" in resumed.stdout
        latest = {key: status for key, status, _, _ in records(store)}
        assert len(latest) == 4 and set(latest.values()) == {"ok"}
        ok_keys = [key for key, status, _, _ in records(store) if status == "ok"]
        assert len(ok_keys) == len(set(ok_keys))  # nothing finished was run again
        assert_intact(store)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_two_runs_on_one_store_record_each_cell_once(tmp_path):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        *GRID,
        "--problems",
        "coinflip,gamma",
        "--methods",
        "testing.exact,testing.nan",
        "--store",
        str(store),
    ]
    runs = [start(*args, tmp=tmp_path) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err
    assert len(statuses(store)) == 4  # 2 problems x 2 methods, each recorded exactly once
    ran = sum(int(out.split("ran ")[-1].split()[0]) for out, _ in outputs)
    assert ran == 4  # no cell ran twice: what one run claimed the other left to it (or reused)
    assert_intact(store)
    assert sqlite3.connect(store).execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # all released
    assert_nothing_left(tmp_path)


def test_non_finite_failures_of_any_library_are_diverged():
    from bench.records.cells import Cell
    from bench.records.reasons import classify
    from bench.records.record import Record

    parameter_value_error = type("ParameterValueError", (ValueError,), {})  # PyMC's, when p went NaN
    assert classify(parameter_value_error("0 <= p <= 1")) == "diverged"
    assert classify(FloatingPointError("NaN occurred in optimization.")) == "diverged"
    assert classify(RuntimeError("loss is nan at step 3")) == "diverged"
    assert classify(ValueError("deliberate failure")) == "error"
    assert classify(MemoryError()) == "oom" and classify(RuntimeError("CUDA out of memory")) == "oom"
    cell = Cell("toy", "coinflip", "testing.raise", "", 0, "cpu", "float32", 1, 100)
    record = Record(cell, "error", "line one\n" + "x" * 5000).clip_reason()
    assert len(record.reason) <= 200 and "\n" not in record.reason and len(record.info["reason_full"]) > 5000
