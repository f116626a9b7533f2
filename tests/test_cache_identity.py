"""A cell's hash covers the code it depends on, not the commit: a new problem file and a README-only
commit leave a finished cell reused, an edit to its backend re-runs it; and a store holding records
of a problem that is no longer registered still reports and plots (one warning)."""

import os
import re
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def bench(project, *args):
    env = dict(os.environ, BENCH_TEST_METHODS="1", PYTHONPATH=str(project))
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def git(project, *args):
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)


def ran_reused(result) -> tuple[int, int]:
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"ran (\d+) .*reused (\d+) finished cells", result.stdout)
    return int(match.group(1)), int(match.group(2))


def test_cells_rerun_only_when_their_code_changes_and_removed_problems_still_report(tmp_path):
    project = tmp_path / "project"
    for part in ("bench", "backends", "suites"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copytree(ROOT / "suites" / "posteriordb" / "data", project / "suites" / "posteriordb" / "data")
    (project / "README.md").write_text("bench\n")
    git(project, "init", "-q")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "start", "--allow-empty")
    git(project, "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tree")
    store = str(tmp_path / "bench.sqlite")
    run = (
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "testing.exact",
        "--repeats",
        "1",
        "--store",
        store,
    )
    assert ran_reused(bench(project, *run)) == (1, 0)

    # a new problem file, registered, and a README-only commit: the coinflip cell is reused
    coin = (project / "suites" / "toy" / "coinflip.py").read_text().replace('name="coinflip"', 'name="mycoin"')
    (project / "suites" / "toy" / "mycoin.py").write_text(coin)
    registry = project / "suites" / "__init__.py"
    original = registry.read_text()
    entry = '"coinflip": "suites.toy.coinflip",'
    registry.write_text(
        original.replace(entry, entry + '\n    "mycoin": "suites.toy.mycoin",').replace(
            '"toy": ("gamma", "coinflip",', '"toy": ("gamma", "coinflip", "mycoin",'
        )
    )
    (project / "README.md").write_text("bench, a benchmark harness\n")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "README and a new problem")
    assert ran_reused(bench(project, *run)) == (0, 1)
    assert ran_reused(bench(project, *run[:4], "coinflip,mycoin", *run[5:])) == (1, 1)

    # an edit to the cell's backend re-runs it
    testing = project / "backends" / "testing.py"
    testing.write_text(testing.read_text() + "\n# an edit to the backend\n")
    assert ran_reused(bench(project, *run)) == (1, 0)

    # the new problem removed again: report and plot still work, with one warning each
    registry.write_text(original)
    (project / "suites" / "toy" / "mycoin.py").unlink()
    report = bench(project, "report", "--store", store)
    assert report.returncode == 0, report.stderr
    assert "mycoin" in report.stdout and report.stdout.count("no longer registered") == 1
    plot = bench(project, "plot", "--store", store, "--kind", "cost", "--out", str(tmp_path / "figures"))
    assert plot.returncode == 0, plot.stderr
    assert plot.stdout.count("no longer registered") == 1 and (tmp_path / "figures" / "cost.png").exists()


def test_hashing_a_backends_code_imports_no_framework():
    """The driver hashes every planned cell's code: finding the files must not import the backend
    (`importlib.util.find_spec("a.b.c")` imports `a.b`; JAX or PyMC would cost seconds per run)."""
    probe = (
        "import sys; from bench.runtime import code_identity as c; "
        "modules = ['backends.numpyro.svi', 'backends.blackjax.vi', 'backends.pymc.fit', 'backends.torch.vi']; "
        "assert len(c.fingerprint(modules)) == 64; "
        "assert all(len(c.closure(m)) > 1 for m in modules), [c.closure(m) for m in modules]; "
        "print(sorted({'jax', 'numpyro', 'pymc', 'pytensor', 'torch'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
