"""The command line end to end, on tiny settings, into a temporary store."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest


from bench.store import paths
from tests.conftest import requires_numpyro


def test_the_compile_cache_lives_beside_the_store_unless_a_shared_one_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.COMPILE_CACHE_VARIABLE, raising=False)
    assert paths.compile_cache_beside(tmp_path / "out" / "s.sqlite") == tmp_path / "out" / "cache"
    monkeypatch.setenv(paths.COMPILE_CACHE_VARIABLE, str(tmp_path / "shared"))
    assert paths.compile_cache_beside(tmp_path / "out" / "s.sqlite") == tmp_path / "shared"


def bench(*args, cwd, timeout=300):
    env = dict(os.environ, BENCH_TEST_METHODS="1")
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def rows(store, where="1=1"):
    con = sqlite3.connect(store)
    try:
        return con.execute(f"SELECT problem, method, variant, status FROM records WHERE {where}").fetchall()
    finally:
        con.close()


def has_ok_row(store) -> bool:
    """While a run writes it: whether the store holds an ok record yet (its schema may still be in the making)."""
    try:
        return store.exists() and bool(rows(store, "status='ok'"))
    except sqlite3.OperationalError:  # the file exists, its tables not yet
        return False


def claims_held(store) -> int | None:
    """While a run writes it: how many cells it still claims (a claim goes once the cell's record is stored)."""
    try:
        con = sqlite3.connect(store)
        try:
            return con.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # no table yet, or the writer holds the lock
        return None


@requires_numpyro
def test_run_resume_force_and_report(tmp_path):
    store = tmp_path / "out" / "bench.sqlite"
    args = [
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "numpyro.svi:auto_normal",
        "--set",
        "steps=300",
        "--repeats",
        "2",
        "--draws",
        "2000",
        "--store",
        str(store),
    ]
    first = bench(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "summary" in first.stdout and "ran 1 (1 ok)" in first.stdout
    assert rows(store) == [("coinflip", "numpyro.svi", "auto_normal", "ok")]
    assert (paths.compile_cache_beside(store) / "jax").is_dir()  # the persistent compilation cache

    again = bench(*args, cwd=tmp_path)
    assert again.returncode == 0 and "reused 1 finished cells" in again.stdout
    assert len(rows(store)) == 1
    forced = bench(*args, "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "ran 1 (1 ok)" in forced.stdout and len(rows(store)) == 2

    samples = sqlite3.connect(store).execute("SELECT COUNT(*) FROM timing_samples WHERE phase='run_s'").fetchone()[0]
    assert samples == 4  # every warm repeat of both runs is stored

    wide = bench(*args, "--x64", cwd=tmp_path)
    assert wide.returncode == 0 and "ran 1 (1 ok)" in wide.stdout
    info = sqlite3.connect(store).execute("SELECT dtype, info FROM records ORDER BY record_id DESC").fetchone()
    assert info[0] == "float64" and __import__("json").loads(info[1])["computed_dtype"] == "float64"

    markdown = bench("report", "--store", str(store), "--format", "summary", cwd=tmp_path)
    assert markdown.returncode == 0 and "| coinflip | numpyro.svi:auto_normal | 0 | float32 | ok |" in markdown.stdout
    assert "| coinflip | numpyro.svi:auto_normal | 0 | float64 | ok |" in markdown.stdout
    csv = bench("report", "--store", str(store), "--format", "csv", cwd=tmp_path)
    lines = csv.stdout.splitlines()
    assert lines[0] == "problem,method,seed,device,status,metric,value"
    assert any(line.startswith("coinflip,numpyro.svi:auto_normal,0,cpu,ok,elbo,") for line in lines)


def test_failed_cells_are_rows_and_strict_exits_one(tmp_path):
    store = tmp_path / "s.sqlite"
    result = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip,banana",
        "--methods",
        "testing.exact,testing.raise",
        "--repeats",
        "1",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(rows(store)) == [
        ("banana", "testing.exact", "", "ok"),
        ("banana", "testing.raise", "", "error"),
        ("coinflip", "testing.exact", "", "ok"),
        ("coinflip", "testing.raise", "", "error"),
    ]
    assert "deliberate failure" in result.stdout
    strict = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "testing.raise",
        "--repeats",
        "1",
        "--store",
        str(store),
        "--strict",
        cwd=tmp_path,
    )
    assert strict.returncode == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--suite", "nope"], "unknown suite 'nope'; valid choices: bnn, nightly, posteriordb, scale, toy"),
        (["--suite", "toy", "--problems", "gamma,moons"], "unknown problem in suite toy 'moons'"),
        (["--suite", "toy", "--methods", "stan.nuts"], "unknown method 'stan.nuts'; valid choices:"),
        (["--suite", "toy", "--seeds", "0"], "--seeds must be a positive number"),
        (["--suite", "toy", "--repeats", "0"], "--repeats must be a positive number"),
        (["--suite", "toy", "--jobs", "-2"], "--jobs must be a positive number"),
        (["--suite", "toy", "--timeout", "0"], "--timeout must be a positive number"),
        (["--suite", "toy", "--set", "stepz=3"], "unknown setting 'stepz'"),
        (["--suite", "toy", "--executor", "slurm"], "unknown executor 'slurm'; valid choices: dask, local"),
    ],
)
def test_bad_input_is_one_line_exit_two_and_nothing_written(tmp_path, args, message):
    store = tmp_path / "results" / "bench.sqlite"
    result = bench("run", *args, "--store", str(store), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_gpu_without_gpu_and_corrupt_store_exit_two(tmp_path):
    from bench.runtime.environment import gpus

    if not gpus():
        result = bench("run", "--suite", "toy", "--device", "gpu", "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)
        assert result.returncode == 2 and "no GPU is visible" in result.stderr
        assert not (tmp_path / "s.sqlite").exists()
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"garbage" * 1000)
    before = corrupt.read_bytes()
    for args in (["run", "--suite", "toy", "--methods", "testing.exact"], ["report"]):
        result = bench(*args, "--store", str(corrupt), cwd=tmp_path)
        assert result.returncode == 2 and "not a readable bench store" in result.stderr
    assert corrupt.read_bytes() == before
    missing = bench("report", "--store", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert bench("report", "--format", "docx", "--store", str(corrupt), cwd=tmp_path).returncode == 2


def test_list_and_env(tmp_path):
    listing = bench("list", cwd=tmp_path)
    assert listing.returncode == 0
    for name in ("toy", "gamma", "coinflip", "banana", "gaussian2d", "bimodal", "numpyro.svi"):
        assert name in listing.stdout
    assert bench("list", "backends", cwd=tmp_path).returncode == 2
    env = bench("env", "--json", cwd=tmp_path)
    assert env.returncode == 0 and '"cpu"' in env.stdout and '"packages"' in env.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_keeps_finished_cells_and_resumes(tmp_path, signum):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        "--suite",
        "toy",
        "--problems",
        "gamma",
        "--methods",
        "testing.exact,testing.sleep",
        "--repeats",
        "1",
        "--store",
        str(store),
    ]
    started = tmp_path / "sleep-started"  # testing.sleep touches it once its fit has begun
    env = dict(os.environ, BENCH_TEST_METHODS="1", BENCH_TEST_STARTED=str(started))
    # Started with SIGINT ignored, as a shell starts a background job (trap, not preexec_fn: no fork of this
    # multithreaded test process running Python before exec).
    command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', sys.executable, "-m", "bench", *args]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The signal lands at one known point: testing.exact's record stored and its claim released (the
    # driver is done with it), testing.sleep running. The limit only stops a broken run from hanging.
    deadline = time.monotonic() + 600
    while not (started.exists() and has_ok_row(store) and claims_held(store) == 1):
        assert proc.poll() is None and time.monotonic() < deadline, "the run never reached the sleeping cell"
        time.sleep(0.1)
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert rows(store) == [("gamma", "testing.exact", "", "ok")]
    resumed = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "gamma",
        "--methods",
        "testing.exact",
        "--repeats",
        "1",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert resumed.returncode == 0 and "reused 1 finished cells" in resumed.stdout
    leftover = subprocess.run(["pgrep", "-f", f"bench-cell-.*{tmp_path.name}"], capture_output=True)
    assert leftover.returncode != 0  # no orphaned worker
    from tests.test_zygote import processes_marked  # the interrupted run's processes carry its environment

    mark = f"BENCH_TEST_STARTED={started}"
    deadline = time.monotonic() + 60
    while processes_marked(mark) and time.monotonic() < deadline:  # a killed process is gone once reaped
        time.sleep(0.2)
    assert processes_marked(mark) == []  # nor its zygote, nor the forked sleeping cell
