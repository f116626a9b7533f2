"""Every cell runs in its own process; each kind of failure becomes a row and the grid goes on."""

import pytest

from bench.cells import Cell
from bench.executors import LocalExecutor


def cell(method, problem="coinflip"):
    settings = {"steps": 10, "sleep_s": 120.0}
    return Cell("toy", problem, method, "", 0, "cpu", "float32", 1, 200, settings, hash=method)


# A spawned interpreter's imports count against its timeout (a zygote's are paid before the fork)
@pytest.mark.parametrize("forked, timeout", [(True, 8), (False, 20)], ids=["zygote", "spawned"])
def test_failures_become_rows_while_the_other_cells_finish(forked, timeout, monkeypatch):
    if not forked:
        monkeypatch.setenv("BENCH_NO_ZYGOTE", "1")  # a fresh interpreter per cell, the fallback path
    cells = [cell(f"testing.{m}") for m in ("raise", "nan", "sleep", "crash", "exact")]
    cells.append(Cell("toy", "gamma", "testing.exact", "", 0, "cpu", "float32", 1, 200, {"steps": 2, "sleep_s": 0.0},
                      unsupported="not for this device", hash="u"))  # fmt: skip
    records = {r["cell"]["method"] + r["hash"]: r for r in LocalExecutor(jobs=3, timeout=timeout).run(cells)}
    assert len(records) == len(cells)
    by_method = {r["cell"]["method"]: r for r in records.values() if r["hash"] != "u"}
    assert by_method["testing.raise"]["status"] == "error"
    assert "ValueError: deliberate failure" in by_method["testing.raise"]["reason"]
    assert by_method["testing.nan"]["status"] == "diverged"
    assert "non-finite at step 6" in by_method["testing.nan"]["reason"]
    assert by_method["testing.sleep"]["status"] == "timeout"
    assert f"{timeout} s timeout" in by_method["testing.sleep"]["reason"]
    assert by_method["testing.crash"]["status"] == "error"
    assert "SIGKILL" in by_method["testing.crash"]["reason"]
    assert by_method["testing.exact"]["status"] == "ok"
    assert by_method["testing.exact"]["metrics"]["std_mean_err_max"] < 0.5
    assert records["testing.exactu"]["status"] == "unsupported"
    assert records["testing.exactu"]["reason"] == "not for this device"


@pytest.mark.parametrize("jobs", [1])
def test_worker_environment_pins_device_dtype_and_threads(jobs):
    from bench.executors import worker_environment

    env = worker_environment(cell("testing.exact"), threads=2, jax_cache=None)
    assert env["JAX_PLATFORMS"] == "cpu" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["JAX_ENABLE_X64"] == "0" and env["OMP_NUM_THREADS"]
