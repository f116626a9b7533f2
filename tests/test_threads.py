"""The thread policy: one count for every framework in a worker, in the hash, checked against the cores."""

import os

import pytest

from backends.jax_common.runtime import SINGLE_THREAD_XLA
from bench.runtime import threads
from bench.records.cells import Cell
from bench.spec.errors import BenchInputError
from bench.execution.executors import LocalExecutor
from bench.execution.plan import Request, build_plan
from tests.conftest import requires_numpyro, requires_pymc, requires_torch
from tests.test_cli import bench

CORES = os.cpu_count() or 1


def test_threads_times_jobs_within_the_cores():
    threads.check(1, CORES, CORES)
    with pytest.raises(BenchInputError, match=r"--threads 2 x --jobs 2 = 4 exceeds this machine's 3 cores"):
        threads.check(2, 2, cores=3)
    with pytest.raises(BenchInputError, match="--threads must be a positive number"):
        threads.check(0, 1, cores=3)


def test_cli_rejects_more_threads_than_cores_and_writes_nothing(tmp_path):
    store = tmp_path / "out" / "bench.sqlite"
    out = bench(
        "run",
        "--suite",
        "toy",
        "--methods",
        "testing.exact",
        "--threads",
        str(CORES + 1),
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"exceeds this machine's {CORES} cores" in out.stdout + out.stderr
    assert not store.exists()


def test_the_cell_hash_changes_with_threads_and_the_key_does_not():
    one, two = (
        build_plan(Request(suite="toy", problems=["coinflip"], methods=["testing.exact"], threads=n)) for n in (1, 2)
    )
    assert [c.key for c in one] == [c.key for c in two]
    assert {c.threads for c in one} == {1} and {c.threads for c in two} == {2}
    assert not {c.hash for c in one} & {c.hash for c in two}


def test_xla_flags_merge_and_single_thread_eigen():
    env = threads.environment(1, {"XLA_FLAGS": "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=true"})
    assert env["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", SINGLE_THREAD_XLA]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert SINGLE_THREAD_XLA not in threads.environment(2)["XLA_FLAGS"]


def _cell(method, variant, n, settings):
    return Cell(
        "toy", "coinflip", method, variant, 0, "cpu", "float32", 1, 200, settings, threads=n, hash=f"{method}{n}"
    )


def _run(cells):
    records = list(LocalExecutor(jobs=1, timeout=300).run(cells))
    for record in records:
        assert record.status == "ok", record.reason
    return {(r.cell.method, r.cell.threads): r.info["threads"] for r in records}


@requires_torch
@requires_numpyro
def test_the_setting_reaches_torch_blas_and_xla_inside_the_worker():
    vi = {"steps": 5, "learning_rate": 0.01, "particles": 1, "init_scale": 0.1, "compile": False}
    cells = [_cell("torch.vi", "", n, vi) for n in (1, 2)]
    from backends import get_method
    import suites
    from bench.spec.methods import resolve_settings

    svi = resolve_settings(get_method("numpyro.svi"), suites.get_problem("coinflip"), "auto_normal", {"steps": "5"})
    cells += [_cell("numpyro.svi", "auto_normal", n, svi) for n in (1, 2)]
    seen = _run(cells)
    for n in (1, 2):
        torch_info, jax_info = seen["torch.vi", n], seen["numpyro.svi", n]
        assert torch_info["setting"] == jax_info["setting"] == n
        assert torch_info["torch"] == {"intra_op": n, "inter_op": n}
        assert f"openmp={n}" in torch_info["native_pools"]  # torch's own OpenMP runtime
        assert f"openblas={n}" in jax_info["native_pools"]  # numpy's BLAS in the JAX worker
        assert (SINGLE_THREAD_XLA in jax_info["env"]["XLA_FLAGS"]) == (n == 1)


@pytest.mark.slow
@requires_pymc
def test_the_setting_reaches_pytensor_blas_inside_the_worker():
    from backends import get_method
    import suites
    from bench.spec.methods import resolve_settings

    settings = resolve_settings(get_method("pymc.advi"), suites.get_problem("coinflip"), "", {"steps": "5"})
    seen = _run([_cell("pymc.advi", "", 2, settings)])
    info = seen["pymc.advi", 2]
    assert info["setting"] == 2 and "pytensor" in info
    assert any(pool.endswith("=2") for pool in info["native_pools"])  # the BLAS PyTensor links


def test_report_shows_threads_when_they_vary(tmp_path):
    store = tmp_path / "bench.sqlite"
    for problem, n in (("coinflip", 1), ("gamma", min(2, CORES))):
        out = bench(
            "run",
            "--suite",
            "toy",
            "--problems",
            problem,
            "--methods",
            "testing.exact",
            "--threads",
            str(n),
            "--store",
            str(store),
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stdout + out.stderr
    summary = bench("report", "--store", str(store), "--format", "summary", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert ("threads" in summary.stdout) == (CORES >= 2)
    tables = bench("report", "--store", str(store), "--format", "md", cwd=tmp_path)
    assert tables.returncode == 0, tables.stderr
    assert ("testing.exact [threads=2]" in tables.stdout) == (CORES >= 2)
