"""Cells forked from a per-slot zygote are fresh processes: a cell's compile time and metrics do not
depend on what ran before it in its slot; compile caches load on a second run; phases are recorded."""

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from bench.execution import zygote
from bench.records.cells import Cell
from bench.execution.executors import run_in_subprocess
from tests.conftest import ROOT, requires_numpyro


def svi_cell(problem="coinflip", guide="auto_normal", steps=200):
    settings = {
        "guide": guide,
        "steps": steps,
        "learning_rate": 0.01,
        "particles": 1,
        "init_scale": 0.1,
        "schedule": "constant",
        "early_stopping": False,
        "patience": 200,
        "batch_size": 0,
    }
    return Cell("toy", problem, "numpyro.svi", guide, 0, "cpu", "float32", 1, 2000, settings, hash=problem + guide)


def quality(record):
    from bench.scoring.metrics import result_metrics

    return result_metrics(record.metrics)


@pytest.mark.heavy  # compares compile times measured on this machine: the nightly run's, not CI's
@requires_numpyro
def test_compile_time_and_metrics_do_not_depend_on_what_ran_before_in_the_slot(monkeypatch):
    """B first in a fresh slot (twice, interleaved) against B after other cells in one slot: no
    in-memory compile cache leaks from one cell to the next (no persistent cache here)."""
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)  # conftest turns it on for the tests
    other, cell = svi_cell(guide="auto_mvn"), svi_cell()

    def run(pool, c):
        record = run_in_subprocess(c, 600, threads=1, cache_dir=None, zygotes=pool)
        assert record.status == "ok", record.reason
        return record

    def fresh():
        pool = zygote.Zygotes()
        try:
            return run(pool, cell)
        finally:
            pool.close()

    shared = zygote.Zygotes()
    try:
        first = [fresh()]
        run(shared, other)
        after = [run(shared, cell)]
        first.append(fresh())
        after.append(run(shared, cell))  # after `other` and after itself
    finally:
        shared.close()
    for record in first[1:] + after:
        assert quality(record) == quality(first[0])  # exactly: same seed, same machine
        assert record.info["compile_cache"] == "uncached"
    compile_first = np.median([r.timing["compile_s"][0] for r in first])
    compile_after = np.median([r.timing["compile_s"][0] for r in after])
    assert 0.75 < compile_after / compile_first < 1 / 0.75


@requires_numpyro
def test_a_second_run_loads_its_compiles_from_the_persistent_cache(tmp_path):
    records = []
    for _ in range(2):
        pool = zygote.Zygotes()  # a new slot: nothing shared but the cache folder
        try:
            records.append(run_in_subprocess(svi_cell(steps=100), 600, cache_dir=tmp_path, zygotes=pool))
        finally:
            pool.close()
    cold, warm = records
    assert cold.status == warm.status == "ok"
    assert cold.info["compile_cache"] == "miss" and cold.info["compile_cache_events"]["writes"] > 0
    assert warm.info["compile_cache"] == "hit" and warm.info["compile_cache_events"]["hits"] > 0
    assert quality(warm) == quality(cold)


def test_a_crash_retires_the_zygote_and_the_next_cell_gets_a_new_one():
    from tests.test_isolation import cell

    pool = zygote.Zygotes()
    try:
        assert run_in_subprocess(cell("testing.exact"), 120, zygotes=pool).status == "ok"
        (first,) = pool._all
        crashed = run_in_subprocess(cell("testing.crash"), 120, zygotes=pool)
        assert crashed.status == "error" and "SIGKILL" in crashed.reason
        assert first not in pool._all and first.proc.poll() is not None
        assert run_in_subprocess(cell("testing.exact"), 120, zygotes=pool).status == "ok"
        assert len(pool._all) == 1 and first not in pool._all
    finally:
        pool.close()
    assert not pool._all


def test_a_zygote_refuses_to_fork_after_an_import_that_started_a_thread():
    code = "import threading, time; threading.Thread(target=time.sleep, args=(5,), daemon=True).start()"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nfrom bench.execution.zygote import fork_safety; print(fork_safety())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "thread" in result.stdout


def test_run_records_phases_and_ends_with_the_measured_work_line(tmp_path):
    store = tmp_path / "s.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            "toy",
            "--problems",
            "coinflip,banana",
            "--methods",
            "testing.exact",
            "--repeats",
            "2",
            "--store",
            str(store),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("measured work (compile + repeats) 0.0 s of wall ") and "no measured work" in last
    con = sqlite3.connect(store)
    rows = con.execute("SELECT record_id, info FROM records").fetchall()
    timed = {
        rid: sum(
            s
            for (s,) in con.execute(
                "SELECT seconds FROM timing_samples WHERE record_id = ? AND phase = 'run_s'", (rid,)
            )
        )
        for rid, _ in rows
    }
    con.close()
    assert len(rows) == 2
    for record_id, text in rows:
        info = json.loads(text)
        phases = info["phases"]
        assert {
            "start",
            "imports",
            "data",
            "setup",
            "compile",
            "repeats",
            "final_draws",
            "scoring",
            "checkpoints",
            "store_write",
        } <= set(phases)
        assert all(seconds >= 0 for seconds in phases.values())
        assert phases["repeats"] == pytest.approx(timed[record_id])  # testing.exact's two timed repeats


def processes_marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (the driver, its zygotes and their cells)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if mark.encode() in open(f"/proc/{entry}/environ", "rb").read():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_an_interrupted_run_leaves_no_zygote_and_no_forked_cell(tmp_path):
    import signal
    import time

    store, mark = tmp_path / "s.sqlite", f"BENCH_TEST_MARK={tmp_path.name}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_TEST_MARK": tmp_path.name}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            "toy",
            "--problems",
            "gamma",
            "--methods",
            "testing.sleep",
            "--repeats",
            "1",
            "--store",
            str(store),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(processes_marked(mark)) < 3:  # driver, zygote, forked cell
        time.sleep(0.2)
    assert len(processes_marked(mark)) >= 3
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and processes_marked(mark):
        time.sleep(0.2)
    assert processes_marked(mark) == []
