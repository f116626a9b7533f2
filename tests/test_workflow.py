"""The nightly workflow's own `run:` lines, executed as GitHub would, against planted stores.

Read from .github/workflows/nightly.yml (never a copy): every `run:` step but the install, in
order, with the shell the workflow declares, `${{ github.run_id }}` filled in, `bench` resolving
to `python -m bench`, and only the variables the workflow itself exposes in `env:` changed
(a tiny testing.exact grid instead of the nightly suite, two confirm rounds). One baseline night,
then: the same code while a busy process loads the CPU (exit 0), and a planted 2x slowdown
(the test method's sleep_per_step doubled: exit 1), and a night whose grid changed a setting
(steps: exit 3, a configuration error, never a regression).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
GRID = (
    "--problems coinflip --methods testing.exact --seeds 1 --repeats 5 --set steps={steps} --set sleep_per_step={sleep}"
)
pytestmark = pytest.mark.slow  # end to end: a few `bench run`s of a 20-step test method


def shell_command(workflow: dict, job: dict) -> list[str]:
    shell = job.get("defaults", {}).get("run", {}).get("shell") or workflow.get("defaults", {}).get("run", {}).get(
        "shell"
    )
    # GitHub's documented expansions: an explicit `bash` gets pipefail, the implicit default does not
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if shell == "bash" else ["bash", "-e"]


def run_workflow(tmp: Path, run_id: int, overrides: dict[str, str]) -> list[tuple[str, int, str]]:
    """Run the job's steps in `tmp` as the runner would; returns (step name, exit code, output) per step run."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    declared = {**workflow.get("env", {}), **job.get("env", {})}
    assert set(overrides) <= set(declared), f"the workflow does not expose {set(overrides) - set(declared)}"
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    bench = bin_dir / "bench"
    bench.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bench "$@"\n')
    bench.chmod(bench.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, **{k: str(v) for k, v in declared.items()}, **overrides}
    env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    env["BENCH_TEST_METHODS"] = "1"
    results, failed = [], False
    for step in job["steps"]:
        script = step.get("run")
        if script is None or script.strip().startswith("pip install"):
            continue
        if failed and "always()" not in str(step.get("if", "")):
            continue
        script = script.replace("${{ github.run_id }}", str(run_id))
        assert "${{" not in script, f"unhandled expression in step {step.get('name')}: {script}"
        path = tmp / "step.sh"
        path.write_text(script)
        done = subprocess.run(
            [*shell_command(workflow, job), str(path)],
            cwd=tmp,
            env={**env, **step.get("env", {})},
            capture_output=True,
            text=True,
            timeout=900,
        )
        results.append((step.get("name", script.split()[0]), done.returncode, done.stdout + done.stderr))
        failed |= done.returncode != 0
    return results


def step(results, name: str) -> tuple[int, str]:
    return next((code, out) for step_name, code, out in results if step_name.startswith(name))


@pytest.fixture(scope="module")
def baseline_night(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("night1")
    results = run_workflow(
        tmp, 1, {"BENCH_NIGHTLY_ARGS": GRID.format(steps=20, sleep=0.002), "BENCH_CONFIRM_ROUNDS": "2"}
    )
    assert all(code == 0 for _, code, _ in results), results
    assert "first nightly" in step(results, "Compare")[1]
    return tmp / "results"


def second_night(baseline: Path, tmp: Path, sleep: float, steps: int = 20) -> list:
    shutil.copytree(baseline, tmp / "results")
    return run_workflow(
        tmp, 2, {"BENCH_NIGHTLY_ARGS": GRID.format(steps=steps, sleep=sleep), "BENCH_CONFIRM_ROUNDS": "2"}
    )


@pytest.mark.heavy  # a timing gate under a second process's load: nightly, not on CI's shared cores
def test_same_code_under_cpu_load_passes(baseline_night, tmp_path):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # other work on the machine
    try:
        results = second_night(baseline_night, tmp_path, sleep=0.002)
    finally:
        busy.kill()
        busy.wait()
    code, out = step(results, "Compare")
    assert code == 0, out
    assert all(code == 0 for _, code, _ in results), results
    assert "0 regression" in out
    reports = tmp_path / "results" / "reports"
    for name in ("compare.csv", "compare.txt", "benchmark.json", "benchmark.bigger.json", "bencher.json", "nightly.md"):
        assert (reports / name).stat().st_size > 0, name
    names = [entry["name"] for entry in json.loads((reports / "benchmark.json").read_text())]
    assert "toy/coinflip/testing.exact/cpu/float32 run_s" in names


@pytest.mark.heavy  # a planted 2x slowdown confirmed on this machine's timings: nightly, not on CI's shared cores
def test_planted_slowdown_fails_the_job(baseline_night, tmp_path):
    results = second_night(baseline_night, tmp_path, sleep=0.004)  # twice the sleep per step: about 2x slower
    code, out = step(results, "Compare")
    assert code == 1, out
    assert re.search(r"regression: coinflip testing\.exact run_s: confirmed", out), out
    assert (tmp_path / "results" / "reports" / "bencher.json").exists()  # `if: always()` steps still ran
    assert step(results, "Report")[0] == 0


def test_changed_settings_are_a_configuration_error_not_a_regression(baseline_night, tmp_path):
    results = second_night(baseline_night, tmp_path, sleep=0.002, steps=40)  # twice the steps: twice the run time
    code, out = step(results, "Compare")
    assert code == 3, out
    assert "settings differ: steps 20 (baseline) vs 40 (current)" in out and "configuration error" in out
    assert "0 regression" in out and "regression:" not in out
    assert step(results, "Report")[0] == 0  # `if: always()` steps still ran
