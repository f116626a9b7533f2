"""Plugins by entry point: a distribution made here (a real *.dist-info with entry_points.txt on
PYTHONPATH) with one method and one problem is listed with its origin, run, scored and reported; a
broken plugin is one warning and bench runs; a plugin that reuses a built-in name is refused."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "bench_laplace" / "bench_laplace"


def make_distribution(
    site: Path,
    name: str,
    version: str,
    entry_points: str,
    package: str | None = None,
    files: dict[str, str] | None = None,
) -> None:
    """An installed distribution as importlib.metadata sees one: NAME-VERSION.dist-info beside its code."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)
    if package:
        shutil.copytree(EXAMPLE, site / package)
    for path, text in (files or {}).items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)


LAPLACE_ENTRY_POINTS = (
    "[bench.backends]\nlaplace = bench_laplace.backend\n\n[bench.suites]\nlaplace = bench_laplace.problems\n"
)


def bench(site: Path, *args, cwd: Path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    make_distribution(site, "bench-laplace", "0.1.0", LAPLACE_ENTRY_POINTS, package="bench_laplace")
    return site


def test_plugin_is_listed_run_scored_and_reported(site, tmp_path):
    listed = bench(site, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any("laplace.map" in line and "bench-laplace 0.1.0" in line for line in lines)
    assert any("tilted_coin" in line and "bench-laplace 0.1.0" in line for line in lines)
    assert any("numpyro.svi " in line and "built in" in line for line in lines)
    store = tmp_path / "bench.sqlite"
    ran = bench(
        site,
        "run",
        "--suite",
        "laplace_demo",
        "--methods",
        "laplace.map",
        "--repeats",
        "1",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    con = sqlite3.connect(store)
    (status,) = con.execute("SELECT status FROM records WHERE method='laplace.map'").fetchone()
    metrics = dict(con.execute("SELECT metric, value FROM metrics WHERE component = ''").fetchall())
    con.close()
    assert status == "ok"
    # the harness scored it against the exact Beta(9, 5): Laplace's mean sits near the mode, within 0.5 sd
    assert metrics["std_mean_err_max"] < 0.5 and 0.7 < metrics["sd_ratio_min"] < 1.3 and metrics["elbo"] < 0
    report = bench(site, "report", "--store", str(store), cwd=tmp_path)
    assert report.returncode == 0 and "tilted_coin" in report.stdout and "laplace.map" in report.stdout


def test_broken_plugin_warns_once_and_bench_runs(tmp_path):
    site = tmp_path / "site"
    make_distribution(
        site,
        "bench-broken",
        "2.0",
        "[bench.backends]\nbroken = bench_broken\n",
        files={"bench_broken/__init__.py": "import not_a_module_anywhere\n"},
    )
    listed = bench(site, "list", "methods", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken" in warnings[0] and "bench-broken 2.0" in warnings[0]
    assert "ModuleNotFoundError" in warnings[0] and "numpyro.svi" in listed.stdout


def test_plugin_reusing_a_built_in_name_is_refused(tmp_path):
    site = tmp_path / "site"
    clash = (
        "from bench_laplace.problems import PROBLEMS as _P\nfrom dataclasses import replace\n"
        "PROBLEMS = {'coinflip': replace(_P['tilted_coin'], name='coinflip', suite='clash')}\n"
    )
    make_distribution(
        site,
        "bench-clash",
        "1.0",
        "[bench.suites]\nclash = bench_clash\n",
        package="bench_laplace",
        files={"bench_clash/__init__.py": clash},
    )
    listed = bench(site, "list", "problems", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "refused" in warnings[0] and "'coinflip'" in warnings[0]
    assert "bench-clash" not in listed.stdout
