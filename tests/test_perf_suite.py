"""The pytest-benchmark suite (tests/perf) runs in pedantic mode and writes pytest-benchmark's JSON."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, requires_numpyro


@requires_numpyro
@pytest.mark.heavy  # runs the whole pytest-benchmark suite (minutes); `tox -e perf` is its real use
@pytest.mark.skipif(importlib.util.find_spec("pytest_benchmark") is None, reason="perf extra not installed")
def test_perf_suite_writes_benchmark_json(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, BENCH_PERF_STEPS="200", BENCH_PERF_ROUNDS="3")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "tests/perf",
            "-m",
            "perf",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    names = {b["name"] for b in report["benchmarks"]}
    assert any("coinflip" in n for n in names) and any("moons" in n for n in names)
    for entry in report["benchmarks"]:
        assert entry["stats"]["rounds"] == 3 and entry["extra_info"]["median_us_per_step"] > 0


def test_perf_tests_are_not_collected_by_default():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/perf"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "no tests collected (2 deselected)" in result.stdout
