"""Every cell runs in its own process; each kind of failure becomes a row and the grid goes on."""

import pytest

from bench.records.cells import Cell
from bench.execution.executors import LocalExecutor


def cell(method, problem="coinflip"):
    settings = {"steps": 10, "sleep_s": 120.0}
    return Cell("toy", problem, method, "", 0, "cpu", "float32", 1, 200, settings, hash=method)


# Only the sleeping cell gets a short timeout: a loaded machine may take seconds to start a worker
# (a spawned interpreter's imports count against its timeout; a zygote's are paid before the fork),
# which must not turn the other cells into timeouts.
@pytest.mark.parametrize("forked", [True, False], ids=["zygote", "spawned"])
def test_failures_become_rows_while_the_other_cells_finish(forked, monkeypatch):
    if not forked:
        monkeypatch.setenv("BENCH_NO_ZYGOTE", "1")  # a fresh interpreter per cell, the fallback path
    cells = [cell(f"testing.{m}") for m in ("raise", "nan", "crash", "exact")]
    cells.append(
        Cell(
            "toy",
            "gamma",
            "testing.exact",
            "",
            0,
            "cpu",
            "float32",
            1,
            200,
            {"steps": 2, "sleep_s": 0.0},
            unsupported="not for this device",
            hash="u",
        )
    )
    finished = list(LocalExecutor(jobs=3, timeout=1800).run(cells))
    timeout = 8 if forked else 20
    finished += LocalExecutor(jobs=1, timeout=timeout).run([cell("testing.sleep")])
    records = {r.cell.method + r.hash: r for r in finished}
    assert len(records) == len(cells) + 1
    by_method = {r.cell.method: r for r in records.values() if r.hash != "u"}
    assert by_method["testing.raise"].status == "error"
    assert "ValueError: deliberate failure" in by_method["testing.raise"].reason
    assert by_method["testing.nan"].status == "diverged"
    assert "non-finite at step 6" in by_method["testing.nan"].reason
    assert by_method["testing.sleep"].status == "timeout"
    assert f"{timeout} s timeout" in by_method["testing.sleep"].reason
    assert by_method["testing.crash"].status == "error"
    assert "SIGKILL" in by_method["testing.crash"].reason
    assert by_method["testing.exact"].status == "ok"
    assert by_method["testing.exact"].metrics["std_mean_err_max"] < 0.5
    assert records["testing.exactu"].status == "unsupported"
    assert records["testing.exactu"].reason == "not for this device"


@pytest.mark.parametrize("jobs", [1])
def test_worker_environment_pins_device_dtype_and_threads(jobs):
    from bench.execution.executors import worker_environment

    env = worker_environment(cell("testing.exact"), threads=2, cache_dir=None)
    assert env["JAX_PLATFORMS"] == "cpu" and env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["JAX_ENABLE_X64"] == "0" and env["OMP_NUM_THREADS"]
