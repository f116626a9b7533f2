"""The scale study: parametric problem names, the crossover, the figure (synthetic records for two
devices), the pre-flight, and `bench scale --quick` end to end on a one-size grid."""

import math
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import suites
from bench.studies import scale
from bench.spec.errors import BenchInputError
from suites import scale as problems
from bench.runtime.environment import gpus
from tests.conftest import requires_numpyro


def test_scale_names_have_one_spelling_and_resolve_to_problems():
    assert problems.problem_name(10_000, 32) == "moons_n1e4_h32"
    assert problems.problem_name(300_000, (4, 4)) == "moons_n3e5_h4x4"
    assert problems.parse("moons_n1e4_h32") == (10_000, (32,))
    assert problems.parse("moons_n1500_h8") == (1500, (8,))
    for other in ("moons_n10000_h32", "moons_n1e4_h032", "moons", "moons_n1e4"):
        assert problems.parse(other) is None
    problem = suites.get_problem("moons_n1e3_h4x3")
    assert problem.suite == "scale" and problem.config["widths"] == (2, 4, 3, 1) and problem.config["cost_only"]
    data = problem.make_data(0)
    assert (len(data.train), len(data.val), len(data.test)) == (1000, problems.HOLDOUT, problems.HOLDOUT)
    assert suites.in_suite("scale", "moons_n2e5_h64") and not suites.in_suite("bnn", "moons_n2e5_h64")
    with pytest.raises(BenchInputError, match="moons_n<N>_h<width>"):
        suites.get_problem("moons_n10000_h32")
    assert len(problems.grid()) == len(problems.SIZES) * len(problems.WIDTHS) >= 15


def test_scale_problems_differ_in_hash_by_size_and_width():
    a, b, c = (suites.get_problem(n) for n in ("moons_n1e3_h4", "moons_n3e3_h4", "moons_n1e3_h32"))
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint()}) == 3
    assert a.make_data(0).fingerprint() != b.make_data(0).fingerprint()


def test_sizes_and_widths_options_are_checked():
    assert scale.parse_sizes("1e4, 1e3,1e3") == (10_000, 1000)  # in the order given: the order they run
    assert scale.parse_widths("32,4") == (4, 32)
    for bad in ("abc", "0", "1.5", ""):
        with pytest.raises(BenchInputError, match="--sizes"):
            scale.parse_sizes(bad)
    with pytest.raises(BenchInputError, match="--widths"):
        scale.parse_widths("4,-1")


def test_study_plan_runs_nuts_only_on_small_sizes():
    study = scale.Study(
        sizes=(1000, 100_000), widths=(4,), methods=("numpyro.svi:auto_normal", "numpyro.nuts"), nuts_max_n=10_000
    )
    cells = scale.plan(study, "cpu")
    keys = {(c.problem, c.method) for c in cells}
    assert keys == {
        ("moons_n1e3_h4", "numpyro.svi"),
        ("moons_n1e5_h4", "numpyro.svi"),
        ("moons_n1e3_h4", "numpyro.nuts"),
    }
    nuts = next(c for c in cells if c.method == "numpyro.nuts")
    assert nuts.settings["max_tree_depth"] == int(scale.NUTS_SETTINGS["max_tree_depth"])
    steps = {c.problem: c.settings["steps"] for c in cells if c.method == "numpyro.svi"}
    assert steps == {
        "moons_n1e3_h4": problems.STEPS,
        "moons_n1e5_h4": scale.POINT_STEPS // 100_000,
    }  # fewer at a large N
    assert {c.draws for c in cells} == {scale.SCORE_DRAWS}
    fixed = scale.plan(scale.with_options(study, steps=7), "cpu")
    assert {c.settings["steps"] for c in fixed if c.method == "numpyro.svi"} == {7}
    assert scale.with_options(scale.QUICK, methods=("torch.vi",)).nuts_max_n == 0
    assert scale.with_options(scale.QUICK, methods=("numpyro.nuts",)).nuts_max_n == scale.FULL.nuts_max_n
    assert scale.with_options(scale.FULL, nuts_max_n=0).nuts_max_n == 0


def test_steps_by_size_and_the_quick_study():
    assert [scale.steps_at(scale.FULL, n) for n in (1000, 10_000, 30_000, 100_000, 1_000_000)] == [200, 200, 66, 20, 10]
    quick = scale.QUICK
    assert quick.sizes[0] == 1000 and quick.sizes[-1] == 1_000_000 and len(quick.sizes) >= 4  # three decades
    assert quick.nuts_max_n == 0 and quick.repeats == 2 and len(scale.plan(quick, "cpu")) == 12
    full = scale.plan(scale.FULL, "cpu")
    assert len({c.problem for c in full}) == len(problems.SIZES) * len(problems.WIDTHS) >= 15
    assert {c.method for c in full} == {"numpyro.svi", "blackjax.meanfield_vi", "torch.vi", "numpyro.nuts"}


def test_runs_go_size_by_size_across_devices_and_in_one_pool_on_one_device():
    study = scale.Study(sizes=(100_000, 1000), widths=(4,), methods=("torch.vi",), nuts_max_n=0)
    cpu = scale.plan(study, "cpu")
    (only,) = scale.batches({"cpu": cpu}, study.sizes)
    assert only[:2] == ("cpu", None) and [c.problem for c in only[2]] == ["moons_n1e5_h4", "moons_n1e3_h4"]
    both = scale.batches({"cpu": cpu, "gpu": cpu}, study.sizes)  # (the same cells stand in for the GPU's)
    assert [(d, n) for d, n, _ in both] == [("cpu", 100_000), ("gpu", 100_000), ("cpu", 1000), ("gpu", 1000)]


def test_crossover_interpolates_in_log_log():
    n = [1e3, 1e4, 1e5]
    cpu = [1e-4, 1e-3, 1e-2]  # linear in N
    gpu = [5e-4, 5e-4, 5e-4]  # flat: launch-bound
    assert scale.crossover(n, cpu, gpu) == pytest.approx(10**3.69897, rel=1e-6)  # N where 1e-7 N = 5e-4
    assert scale.crossover(n, cpu, [1e-5] * 3) == -math.inf
    assert scale.crossover(n, cpu, [1.0] * 3) == math.inf
    assert math.isnan(scale.crossover([], [], []))


def _synthetic(devices=("cpu", "gpu")) -> pd.DataFrame:
    """Study records for two widths and two methods: CPU time 1e-7 N, GPU time flat (5e-4 s at
    width 4, 2e-3 s at width 32), so the lines cross at N = 5e3 and 2e4; and one GPU OOM row."""
    rows = []
    for width, gpu_seconds in ((4, 5e-4), (32, 2e-3)):
        for method in ("numpyro.svi:auto_normal", "torch.vi"):
            for n in (1000, 10_000, 100_000):
                for device in devices:
                    seconds = 1e-7 * n if device == "cpu" else gpu_seconds
                    rows.append(
                        {
                            "suite": "scale",
                            "problem": problems.problem_name(n, width),
                            "method": method,
                            "device": device,
                            "status": "ok",
                            "time_per_step_s": seconds,
                            "time_per_grad_s": seconds,
                        }
                    )
    rows.append(
        {
            "suite": "scale",
            "problem": "moons_n1e6_h32",
            "method": "torch.vi",
            "device": "gpu",
            "status": "oom",
            "time_per_step_s": np.nan,
            "time_per_grad_s": np.nan,
        }
    )
    return pd.DataFrame(rows)


def test_figure_is_log_log_labelled_with_a_legend_and_the_crossovers_marked():
    from bench.reporting import plots_scale

    figure = plots_scale.figures(_synthetic())["scale"]
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 2
    for ax in panels:
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert ax.get_xlabel() == plots_scale.XLABEL and ax.get_ylabel() == plots_scale.YLABEL
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "numpyro.svi:auto_normal (cpu)" in labels and "torch.vi (gpu)" in labels
        assert any(label.startswith("crossover") for label in labels)
    markers = plots_scale.crossover_markers(figure)
    assert len(markers) == 4  # one per (width, method)
    expected = {5e-4 / 1e-7, 2e-3 / 1e-7}  # where 1e-7 N meets the flat GPU time
    for n, seconds in markers:
        assert any(n == pytest.approx(e, rel=1e-6) for e in expected) and seconds == pytest.approx(1e-7 * n, rel=1e-6)


def test_cpu_only_figure_has_no_crossover_and_the_table_shows_failures():
    from bench.reporting import plots_scale

    figure = plots_scale.figures(_synthetic(devices=("cpu",)))["scale"]
    assert plots_scale.crossover_markers(figure) == []
    rows = scale.study_rows(_synthetic())
    headers, body = scale.time_table(rows)
    assert headers[3:] == ["N=1e3", "N=1e4", "N=1e5", "N=1e6"]
    oom = next(r for r in body if r[:3] == ["32", "torch.vi", "gpu"])
    assert oom[-1] == "oom" and oom[3] == "2"  # 2 ms per step at N=1e3
    text = scale.to_markdown(rows)
    assert "GPU faster from N ~ 5e+03" in text and "GPU faster from N ~ 2e+04" in text


def _bench(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, BENCH_TEST_METHODS="1"),
    )


@pytest.mark.skipif(bool(gpus()), reason="a GPU is visible: the pre-flight may pass")
def test_scale_on_the_gpu_alone_without_one_exits_two_with_one_line_and_writes_nothing(tmp_path):
    result = _bench(
        tmp_path,
        "scale",
        "--quick",
        "--devices",
        "gpu",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--out",
        str(tmp_path / "figures"),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no GPU is visible" in line and "valid choices: cpu" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@requires_numpyro
def test_bench_scale_quick_end_to_end_then_report_and_plot(tmp_path):
    """`bench scale --quick` cut to one tiny size (N=200, width 2, 20 steps): a NumPyro cell and one
    that fails (a row of its own, not the study's end); `--devices cpu,gpu` without a GPU runs the
    CPU half and says, in one line, that the GPU half was not there."""
    store, out = tmp_path / "bench.sqlite", tmp_path / "figures"
    devices = "cpu" if gpus() else "cpu,gpu"
    args = [
        "scale",
        "--quick",
        "--devices",
        devices,
        "--sizes",
        "200",
        "--widths",
        "2",
        "--methods",
        "numpyro.svi:auto_normal,testing.raise",
        "--steps",
        "20",
        "--store",
        str(store),
        "--out",
        str(out),
    ]
    result = _bench(tmp_path, *args)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "milliseconds per step" in result.stdout and "N=200" in result.stdout
    (crashed,) = [x for x in result.stdout.splitlines() if "testing.raise" in x and "cpu" in x and "│" in x]
    assert "error" in crashed  # the failed cell is a row of the table, not a crash of the study
    if devices == "cpu,gpu":
        (line,) = [x for x in result.stdout.splitlines() if "GPU half was not available" in x]
        assert "no GPU is visible" in line and "'bench[gpu]'" in line  # the extra named, not eaten as markup
    assert (out / "scale.png").exists()
    con = sqlite3.connect(store)
    records = con.execute("SELECT record_id, suite, problem, method, status FROM records ORDER BY method").fetchall()
    assert [r[1:] for r in records] == [
        ("scale", "moons_n200_h2", "numpyro.svi", "ok"),
        ("scale", "moons_n200_h2", "testing.raise", "error"),
    ]
    svi = records[0][0]
    metrics = dict(con.execute("SELECT metric, value FROM metrics WHERE record_id = ?", (svi,)).fetchall())
    assert metrics["time_per_step_s"] == pytest.approx(metrics["run_s"] / 20)
    assert metrics["compile_s"] > 0 and metrics["peak_rss_bytes"] > 0 and "auc" in metrics
    assert metrics["peak_device_bytes"] is None  # JAX's CPU client reports none: stored as missing
    assert "elbo" not in metrics  # cost only: no full-data ELBO
    repeats = con.execute("SELECT COUNT(*) FROM timing_samples WHERE record_id = ? AND phase = 'run_s'", (svi,))
    assert repeats.fetchone()[0] == scale.QUICK.repeats  # the quick study's repeats; compile timed apart
    con.close()

    again = _bench(tmp_path, *[a if a != "cpu,gpu" else "cpu" for a in args])  # resumed (and no GPU probe again)
    assert again.returncode == 0 and "reused 1 finished cells" in again.stdout, again.stdout  # the failure re-runs
    report = _bench(tmp_path, "report", "--store", str(store))
    assert report.returncode == 0 and "## scale: milliseconds per step" in report.stdout, report.stderr
    plot = _bench(tmp_path, "plot", "--kind", "scale", "--store", str(store), "--out", str(tmp_path / "plots"))
    assert plot.returncode == 0 and (tmp_path / "plots" / "scale.png").exists(), plot.stderr
