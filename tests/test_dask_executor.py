"""The Dask executor on real LocalClusters: the same records as the local executor, a lost worker's
cell as a row, interrupt and resume through the command line, an unreachable scheduler as bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from bench.records.cells import Cell
from tests.test_cli import bench, has_ok_row, rows

distributed = pytest.importorskip("distributed", reason="dask extra not installed: pip install 'bench[dask]'")


def cell(method, problem="coinflip", seed=0, sleep_s=60.0):
    return Cell(
        "toy",
        problem,
        method,
        "",
        seed,
        "cpu",
        "float32",
        1,
        200,
        {"steps": 10, "sleep_s": sleep_s},
        hash=f"{method}-{problem}-{seed}",
    )


def _cell_processes(folder) -> list[int]:
    """Cell processes whose files lie in `folder` (TMPDIR of the workers that started them)."""
    found = subprocess.run(["pgrep", "-f", f"{folder}/bench-cell-"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def comparable(record):
    """What must not depend on the executor: everything but timings and where it ran."""
    from bench.scoring.metrics import result_metrics

    untimed = result_metrics(record.metrics)
    return record.status, record.reason, untimed, record.components, record.trace


def test_cluster_records_equal_local_records_and_carry_the_workers_environment():
    from bench.execution.dask_executor import DaskExecutor
    from bench.execution.executors import LocalExecutor

    cells = [cell("testing.exact", "coinflip", 1), cell("testing.exact", "banana"), cell("testing.raise")]
    local = {r.hash: r for r in LocalExecutor(jobs=2, timeout=600).run(cells)}
    # A cluster started apart from the executor, its workers with their own thread setting, so the
    # environment a record carries is seen to be the worker's, not this process's.
    assert os.environ.get("OMP_NUM_THREADS") != "3"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env={"OMP_NUM_THREADS": "3"}
    ) as cluster:
        executor = DaskExecutor(scheduler=cluster.scheduler_address, timeout=600)
        try:
            remote = {r.hash: r for r in executor.run(cells)}
            workers = set(executor.client.scheduler_info()["workers"])
        finally:
            executor.close()
    assert set(remote) == set(local) == {c.hash for c in cells}
    for key in local:
        assert comparable(remote[key]) == comparable(local[key])
    assert remote["testing.exact-banana-0"].status == "ok"
    assert "deliberate failure" in remote["testing.raise-coinflip-0"].reason
    infos = [r.info for r in remote.values()]
    assert {i["executor"] for i in infos} == {"dask"} and {i["worker"] for i in infos} <= workers
    assert {i["cores_share"] for i in infos} == {
        max(1, (os.cpu_count() or 1) // 2)
    }  # the host's cores per running cell
    assert {i["threads"]["setting"] for i in infos if "threads" in i} == {1}  # the run's --threads, as locally
    assert {r.environment["threads"]["OMP_NUM_THREADS"] for r in remote.values()} == {"3"}
    # and without the nanny's own thread limit of 1, which cells would otherwise inherit
    inherited = os.environ.get("MKL_NUM_THREADS")
    assert {r.environment["threads"]["MKL_NUM_THREADS"] for r in remote.values()} == {
        None if inherited in (None, "1") else inherited
    }
    assert next(iter(local.values())).environment is None


def test_a_killed_worker_gives_its_cell_a_worker_lost_row_and_the_grid_goes_on(tmp_path, monkeypatch):
    from bench.execution import driver
    from bench.execution.dask_executor import DaskExecutor

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the cells' folders, to find an orphaned cell afterwards
    executor = DaskExecutor(jobs=2, timeout=120)
    store = tmp_path / "s.sqlite"
    sleeper = cell("testing.sleep", "gamma")
    cells = [sleeper, cell("testing.exact"), cell("testing.exact", seed=1)]
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(run=driver.execute(cells, store, executor)))
    thread.start()
    kills = 0
    try:
        deadline = time.monotonic() + 240
        while thread.is_alive() and time.monotonic() < deadline:
            for address, keys in executor.client.processing().items():
                if any(sleeper.key in str(k) for k in keys):
                    pid = executor.client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)  # the worker dies mid-cell; its nanny starts a new one
                    kills += 1
                    print(f"killed worker {address} (pid {pid}) while it ran {sleeper.key}")
                    time.sleep(1.0)
            time.sleep(0.2)
        thread.join(timeout=60)
    finally:
        executor.close()
        for pid in _cell_processes(tmp_path):  # the killed worker's orphaned cell
            os.kill(pid, signal.SIGKILL)
    assert kills == 2  # killed, retried once on another worker, killed again
    con = sqlite3.connect(store)
    found = con.execute("SELECT method, seed, status, reason, info FROM records ORDER BY method, seed").fetchall()
    print("\n".join(f"{m} seed={s}: {st} {r!r}" for m, s, st, r, _ in found))
    assert [row[:4] for row in found] == [
        ("testing.exact", 0, "ok", ""),
        ("testing.exact", 1, "ok", ""),
        ("testing.sleep", 0, "error", "worker lost (retried once)"),
    ]
    assert outcome["run"].statuses == {"ok": 2, "error": 1}
    assert json.loads(found[2][4])["executor"] == "dask"


def test_interrupted_cluster_run_keeps_finished_cells_kills_its_cells_and_resumes(tmp_path):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        "--suite",
        "toy",
        "--problems",
        "gamma",
        "--repeats",
        "1",
        "--store",
        str(store),
        "--executor",
        "dask",
        "--jobs",
        "2",
    ]
    command = [sys.executable, "-m", "bench", *args, "--methods", "testing.exact,testing.sleep"]
    env = dict(os.environ, BENCH_TEST_METHODS="1", TMPDIR=str(tmp_path))
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not has_ok_row(store):
        time.sleep(0.2)
    time.sleep(1.0)  # the sleeping cell has started by now (two workers, two cells)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert rows(store) == [("gamma", "testing.exact", "", "ok")]
    assert _cell_processes(tmp_path) == []  # the running cell was killed, not orphaned
    info = sqlite3.connect(store).execute("SELECT info FROM records").fetchone()[0]
    assert json.loads(info)["executor"] == "dask" and "env_id" in json.loads(info)
    resumed = bench(*args, "--methods", "testing.exact", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "ran 0 (nothing new), reused 1 finished cells" in resumed.stdout


def test_unreachable_scheduler_is_bad_input_and_writes_nothing(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    store = tmp_path / "s.sqlite"
    args = ["run", "--suite", "toy", "--problems", "gamma", "--methods", "testing.exact", "--store", str(store)]
    result = bench(*args, "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and f"tcp://127.0.0.1:{port}" in result.stderr
    assert "cannot reach a Dask scheduler" in result.stderr
    local = bench(*args, "--scheduler", f"tcp://127.0.0.1:{port}", cwd=tmp_path)
    assert local.returncode == 2 and "--scheduler needs --executor dask" in local.stderr
    assert not store.exists() and not (tmp_path / "cache").exists()


def test_host_slots_are_distinct_while_held_and_reused_after(tmp_path):
    from bench.execution.dask_executor import host_slot

    cache = tmp_path / "cache"
    with host_slot(cache) as first, host_slot(cache) as second:
        assert (first, second) == (0, 1)
    with host_slot(cache) as again:
        assert again == 0
    with host_slot(None) as none:
        assert none == 0


def test_gpu_cells_run_on_workers_offering_the_gpu_resource(tmp_path):
    """Placement, without a GPU: the cell asks for resource GPU=1, so only the worker started with
    `--resources GPU=1` runs it (testing.exact imports no framework, so it runs there)."""
    from bench.execution.dask_executor import DaskExecutor
    from bench.spec.errors import BenchInputError

    gpu_cell = Cell(
        "toy", "coinflip", "testing.exact", "", 0, "gpu", "float32", 1, 200, {"steps": 10, "sleep_s": 0.0}, hash="gpu"
    )
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(BenchInputError, match="no worker of the cluster at .* offers the GPU resource"):
            DaskExecutor(scheduler=address, gpu=True)
        command = [
            sys.executable,
            "-m",
            "dask",
            "worker",
            address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--resources",
            "GPU=1",
            "--no-dashboard",
        ]
        worker = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with distributed.Client(address) as client:
                client.wait_for_workers(2, timeout=120)
                gpu_workers = {a for a, w in client.scheduler_info()["workers"].items() if w["resources"].get("GPU")}
            executor = DaskExecutor(scheduler=address, timeout=60, gpu=True)
            try:
                records = {r.hash: r for r in executor.run([gpu_cell, cell("testing.exact")])}
            finally:
                executor.close()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    assert {r.status for r in records.values()} == {"ok"}
    assert {records["gpu"].info["worker"]} == gpu_workers
    assert records["gpu"].environment["device"] == "gpu"
