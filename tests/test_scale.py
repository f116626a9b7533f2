"""The scale study: parametric problem names, the crossover, the figure (synthetic records for two
devices), and `bench scale` end to end on a one-cell grid."""

import math
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import suites
from bench import scale
from bench.spec.errors import BenchInputError
from suites import scale as problems
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
    study = scale.Study(sizes=(1000, 100_000), widths=(4,), methods=("numpyro.svi:auto_normal", "numpyro.nuts"),
                        nuts_max_n=10_000)  # fmt: skip
    cells = scale.plan(study, "cpu")
    keys = {(c.problem, c.method) for c in cells}
    assert keys == {("moons_n1e3_h4", "numpyro.svi"), ("moons_n1e5_h4", "numpyro.svi"), ("moons_n1e3_h4", "numpyro.nuts")}
    nuts = next(c for c in cells if c.method == "numpyro.nuts")
    assert nuts.settings["max_tree_depth"] == int(scale.NUTS_SETTINGS["max_tree_depth"])
    svi = next(c for c in cells if c.method == "numpyro.svi")
    assert svi.settings["steps"] == scale.FULL.steps and svi.draws == scale.SCORE_DRAWS
    assert scale.with_options(scale.QUICK, methods=("torch.vi",)).nuts_max_n == 0
    assert scale.with_options(scale.QUICK, methods=("numpyro.nuts",)).nuts_max_n == scale.FULL.nuts_max_n
    assert scale.with_options(scale.FULL, nuts_max_n=0).nuts_max_n == 0


def test_crossover_interpolates_in_log_log():
    n = [1e3, 1e4, 1e5]
    cpu = [1e-4, 1e-3, 1e-2]  # linear in N
    gpu = [5e-4, 5e-4, 5e-4]  # flat: launch-bound
    assert scale.crossover(n, cpu, gpu) == pytest.approx(10 ** 3.69897, rel=1e-6)  # N where 1e-7 N = 5e-4
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
                    rows.append({"suite": "scale", "problem": problems.problem_name(n, width), "method": method,
                                 "device": device, "status": "ok", "time_per_step_s": seconds,
                                 "time_per_grad_s": seconds})  # fmt: skip
    rows.append({"suite": "scale", "problem": "moons_n1e6_h32", "method": "torch.vi", "device": "gpu", "status": "oom",
                 "time_per_step_s": np.nan, "time_per_grad_s": np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_figure_is_log_log_labelled_with_a_legend_and_the_crossovers_marked():
    from bench import plots_scale

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
    from bench import plots_scale

    figure = plots_scale.figures(_synthetic(devices=("cpu",)))["scale"]
    assert plots_scale.crossover_markers(figure) == []
    rows = scale.study_rows(_synthetic())
    headers, body = scale.time_table(rows)
    assert headers[3:] == ["N=1e3", "N=1e4", "N=1e5", "N=1e6"]
    oom = next(r for r in body if r[:3] == ["32", "torch.vi", "gpu"])
    assert oom[-1] == "oom" and oom[3] == "2"  # 2 ms per step at N=1e3
    text = scale.to_markdown(rows)
    assert "GPU faster from N ~ 5e+03" in text and "GPU faster from N ~ 2e+04" in text


@pytest.mark.slow
@requires_numpyro
def test_bench_scale_end_to_end_then_report_and_plot(tmp_path):
    """One tiny cell (N=200, width 2, 20 steps) through `bench scale`; `--devices cpu,gpu` on a
    machine without a GPU runs the CPU half and says, in one line, that the GPU half was not there."""
    from bench.environment import gpus

    store, out = tmp_path / "bench.sqlite", tmp_path / "figures"

    def bench(*args):
        return subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600, env=dict(os.environ))  # fmt: skip

    devices = "cpu" if gpus() else "cpu,gpu"
    args = ["scale", "--devices", devices, "--sizes", "200", "--widths", "2", "--methods", "numpyro.svi:auto_normal",
            "--steps", "20", "--repeats", "2", "--store", str(store), "--out", str(out)]  # fmt: skip
    result = bench(*args)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "milliseconds per step" in result.stdout and "N=200" in result.stdout
    if devices == "cpu,gpu":
        (line,) = [x for x in result.stdout.splitlines() if "GPU half was not available" in x]
        assert "no GPU is visible" in line and "'bench[gpu]'" in line  # the extra named, not eaten as markup
    assert (out / "scale.png").exists()
    con = sqlite3.connect(store)
    record = con.execute("SELECT record_id, suite, problem, status FROM records").fetchall()
    assert [r[1:] for r in record] == [("scale", "moons_n200_h2", "ok")]
    metrics = dict(con.execute("SELECT metric, value FROM metrics WHERE record_id = ?", (record[0][0],)).fetchall())
    assert metrics["time_per_step_s"] == pytest.approx(metrics["run_s"] / 20)
    assert metrics["compile_s"] > 0 and metrics["peak_rss_bytes"] > 0 and "auc" in metrics
    assert metrics["peak_device_bytes"] is None  # JAX's CPU client reports none: stored as missing
    assert "elbo" not in metrics  # cost only: no full-data ELBO
    con.close()

    again = bench(*[a if a != "cpu,gpu" else "cpu" for a in args])  # resumed (and no GPU probe again)
    assert again.returncode == 0 and "reused 1 finished cells" in again.stdout
    report = bench("report", "--store", str(store))
    assert report.returncode == 0 and "## scale: milliseconds per step" in report.stdout, report.stderr
    plot = bench("plot", "--kind", "scale", "--store", str(store), "--out", str(tmp_path / "plots"))
    assert plot.returncode == 0 and (tmp_path / "plots" / "scale.png").exists(), plot.stderr
