"""The regression gate on synthetic stores: real slowdowns flagged, noise and small changes not."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from bench.regression import sides as compare
from bench.records.cells import Cell
from bench.store import Store
from bench.records.record import Record

RNG = np.random.default_rng(0)


def write_store(path, run_s_by_cell, cpu="Test CPU A", elbo=-14.79, tag=None, run_id="r1"):
    """One run whose cells carry the given timing samples (spread over two seeds)."""
    with Store(path, create=True) as store:
        env = {"cpu": cpu, "gpus": []}
        store.begin_run(run_id, run_id, "test", tag, env, f"env-{cpu}")
        for problem, samples in run_s_by_cell.items():
            for seed, half in enumerate(np.array_split(np.asarray(samples), 2)):
                cell = Cell("toy", problem, "numpyro.svi", "auto_normal", seed, "cpu", "float32", len(half), 100, {})
                record = Record(cell, "ok")
                record.timing = {"compile_s": [1.0], "run_s": list(map(float, half))}
                record.metrics = {"steps": 1000.0, "elbo": elbo + 0.001 * seed, "compile_s": 1.0}
                store.add_record(run_id, record)
    return path


def run_compare(base, current):
    from bench.regression import gate

    return gate.compare(compare.load_side(str(base), base), compare.load_side(str(current), current))


def verdicts(table, problem, metric):
    return table[(table["problem"] == problem) & (table["metric"] == metric)]["verdict"].tolist()


def test_clear_slowdown_is_a_regression_and_noise_is_not(tmp_path):
    base = write_store(
        tmp_path / "base.sqlite",
        {
            "coinflip": RNG.normal(1.00, 0.01, 10),
            "banana": RNG.uniform(0.9, 1.1, 10),
            "gamma": RNG.normal(1.0, 0.001, 10),
        },
    )
    current = write_store(
        tmp_path / "current.sqlite",
        {
            "coinflip": RNG.normal(1.30, 0.01, 10),  # 30% slower, clearly separated
            "banana": RNG.uniform(0.9, 1.1, 10),  # +-10% noise, overlapping
            "gamma": RNG.normal(1.05, 0.001, 10),  # significant, but below the 10% minimum effect
        },
    )
    table = run_compare(base, current)
    assert verdicts(table, "coinflip", "run_s") == ["regression"]
    assert verdicts(table, "coinflip", "steps_per_s") == ["regression"]
    assert verdicts(table, "banana", "run_s")[0] in ("unchanged", "inconclusive")
    assert verdicts(table, "gamma", "run_s") == ["unchanged"]
    assert set(verdicts(table, "gamma", "elbo")) == {"unchanged"}
    speedup = run_compare(current, base)
    assert verdicts(speedup, "coinflip", "run_s") == ["improvement"]


def test_cells_from_different_machines_are_not_compared(tmp_path):
    base = write_store(tmp_path / "a.sqlite", {"coinflip": RNG.normal(1.0, 0.01, 10)}, cpu="CPU A")
    current = write_store(tmp_path / "b.sqlite", {"coinflip": RNG.normal(2.0, 0.01, 10)}, cpu="CPU B")
    table = run_compare(base, current)
    assert table["verdict"].tolist() == ["not comparable"]
    assert "CPU A" in table["note"].iloc[0] and "CPU B" in table["note"].iloc[0]


def test_intermittent_load_on_some_repeats_is_not_a_regression():
    base = np.array([1.00, 1.01, 1.00, 1.02, 1.01, 1.00, 1.01, 1.02, 1.00, 1.01])
    loaded = np.array([1.01, 1.30, 1.32, 1.28, 1.00, 1.31, 1.29, 1.33, 1.02, 1.30])  # most repeats hit by load
    assert compare.verdict(base, loaded, False, 0.1, 0.05)[0] == "regression"  # medians alone would flag it
    assert compare.verdict(base, loaded, False, 0.1, 0.05, best_must_move=True)[0] == "unchanged"


def test_verdict_rules():
    fast, slow = np.full(8, 1.0) + RNG.normal(0, 1e-3, 8), np.full(8, 1.5) + RNG.normal(0, 1e-3, 8)
    assert compare.verdict(fast, slow, False, 0.1, 0.05)[0] == "regression"
    assert compare.verdict(fast, slow, True, 0.1, 0.05)[0] == "improvement"
    assert compare.verdict(fast[:1], slow[:1], False, 0.1, 0.05)[0] == "inconclusive"  # one sample each proves nothing
    assert compare.verdict(fast, fast.copy(), False, 0.1, 0.05)[0] == "unchanged"


def bench_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def test_cli_exit_codes_and_run_references(tmp_path):
    store = tmp_path / "s.sqlite"
    write_store(store, {"coinflip": RNG.normal(1.0, 0.01, 10)}, tag="night-1", run_id="20260101T000000-aaaaaa")
    write_store(store, {"coinflip": RNG.normal(1.0, 0.01, 10)}, tag="night-2", run_id="20260102T000000-bbbbbb")
    write_store(store, {"coinflip": RNG.normal(1.4, 0.01, 10)}, tag="slowed", run_id="20260103T000000-cccccc")
    same = bench_cli("compare", "night-1", "night-2", "--store", str(store), cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    slowed = bench_cli(
        "compare", "night-2", "latest", "--store", str(store), "--out", str(tmp_path / "c.csv"), cwd=tmp_path
    )
    assert slowed.returncode == 1 and "regression" in slowed.stdout and (tmp_path / "c.csv").exists()
    by_run = bench_cli("compare", "20260101T000000-aaaaaa", "previous", "--store", str(store), cwd=tmp_path)
    assert by_run.returncode == 0
    bad = bench_cli("compare", "nope", "latest", "--store", str(store), cwd=tmp_path)
    assert bad.returncode == 2 and "valid choices: latest, previous, tags night-1, night-2, slowed" in bad.stderr
    assert (
        bench_cli("compare", "latest", "previous", "--store", str(store), "--alpha", "2", cwd=tmp_path).returncode == 2
    )


def test_history_marks_the_change_point(tmp_path):
    pytest.importorskip("matplotlib")
    store = tmp_path / "s.sqlite"
    for day, mean in enumerate([1.0, 1.0, 1.0, 1.5, 1.5], start=1):
        write_store(store, {"coinflip": RNG.normal(mean, 0.01, 10)}, run_id=f"2026010{day}T000000-aaaaaa")
    from bench.regression import history

    table = history.history(store, "coinflip", "numpyro.svi:auto_normal", "run_s")
    assert table["change_point"].tolist() == [False, False, False, True, False]
    result = bench_cli(
        "history",
        "--store",
        str(store),
        "--problem",
        "coinflip",
        "--method",
        "numpyro.svi:auto_normal",
        "--plot",
        str(tmp_path / "h.png"),
        cwd=tmp_path,
    )
    assert result.returncode == 0 and (tmp_path / "h.png").stat().st_size > 1000


def test_a_record_run_on_a_cluster_worker_is_compared_by_the_workers_machine(tmp_path):
    """A record bringing its worker's environment (the Dask executor's do) is judged by that
    machine, not by the driver's that began the run."""
    from bench.execution.driver import note_provenance

    def store_with(path, driver_cpu, worker_cpu, run_s):
        with Store(path, create=True) as store:
            store.begin_run("r1", "r1", "test", None, {"cpu": driver_cpu, "gpus": []}, f"env-{driver_cpu}")
            for seed in (0, 1):
                cell = Cell("toy", "coinflip", "numpyro.svi", "auto_normal", seed, "cpu", "float32", 5, 100, {})
                record = Record(cell, "ok")
                record.timing = {"compile_s": [1.0], "run_s": list(RNG.normal(run_s, 0.01, 5))}
                record.metrics = {"steps": 1000.0, "elbo": -14.79}
                record.info.update(executor="dask", host="worker-host")
                record.environment = {"cpu": worker_cpu, "gpus": [{"name": "Test GPU"}]}
                note_provenance(store, record)
                store.add_record("r1", record)
        return path

    base = store_with(tmp_path / "a.sqlite", "Laptop CPU", "Worker CPU", 1.0)
    same_workers = store_with(tmp_path / "b.sqlite", "Another laptop CPU", "Worker CPU", 1.3)
    other_workers = store_with(tmp_path / "c.sqlite", "Laptop CPU", "Other worker CPU", 1.3)
    assert verdicts(run_compare(base, same_workers), "coinflip", "run_s") == ["regression"]
    assert verdicts(run_compare(base, other_workers), "coinflip", "*") == ["not comparable"]
    assert set(compare.load_side(str(base), base).samples["machine"]) == {"Worker CPU / Test GPU"}
    local = Record(Cell("toy", "gamma", "numpyro.svi", "", 0, "cpu", "float32", 1, 100, {}), "ok")
    with Store(base) as store:
        note_provenance(store, local)  # a local executor's record: run here, in the run's environment
    assert local.info == {"executor": "local", "host": socket.gethostname()}
