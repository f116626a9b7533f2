"""Fair reports: a cell is its problem, method and settings everywhere it is compared; no verdict
across settings (exit 3); cold and cached compiles kept apart; a not-converged fit and a high k-hat
marked in every format and never bolded; runs carry the cells they reused, under their tag."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pandas as pd
import pytest

from bench.records.cells import Cell
from bench.records.record import Record
from bench.regression import gate, history
from bench.regression import sides as compare
from bench.reporting import report, tables
from bench.store import Store
from tests.test_cli import bench

RNG = np.random.default_rng(7)
TASKS = {"coinflip": "density", "gamma": "density"}


def plant(path, run_id, cells, tag=None, cpu="CPU A"):
    """One finished run; each cell is (problem, method, settings, metrics, info), its run_s repeats
    scaled by its steps (a 10,000-step fit takes longer than a 500-step one)."""
    with Store(path, create=True) as store:
        store.begin_run(run_id, run_id, "bench run --suite toy", tag, {"cpu": cpu, "gpus": []}, f"env-{cpu}")
        for problem, method, settings, metrics, info in cells:
            cell = Cell("toy", problem, method, "", 0, "cpu", "float32", 5, 100, settings)
            record = Record(cell, "ok", info=info)
            steps = float(settings.get("steps", 1000))
            record.timing = {
                "compile_s": [metrics.get("compile_s", 1.0)],
                "run_s": list(RNG.normal(steps * 1e-4, steps * 1e-7, 5)),
            }
            record.metrics = {"steps": steps, "run_s": steps * 1e-4, "compile_s": 1.0, **metrics}
            store.add_record(run_id, record)
        store.finish_run(run_id, run_id)
    return path


def advi(steps, elbo):
    return (
        "coinflip",
        "pymc.advi",
        {"steps": steps, "learning_rate": 0.01, "protocol": "recipe"},
        {"elbo": elbo, "elbo_se": 0.01},
        {},
    )


def test_compare_across_steps_is_not_comparable_with_exit_three(tmp_path):
    base = plant(tmp_path / "a.sqlite", "r1", [advi(500, -15.6)])
    current = plant(tmp_path / "b.sqlite", "r2", [advi(10_000, -14.8)])
    table = gate.compare(compare.load_side(str(base), base), compare.load_side(str(current), current))
    assert table["verdict"].tolist() == ["not comparable"]  # no run-time "regression", no ELBO "improvement"
    assert table["note"].iloc[0] == "settings differ: steps 500 (baseline) vs 10000 (current)"
    result = bench("compare", str(base), str(current), cwd=tmp_path)
    assert result.returncode == compare.EXIT_NOT_COMPARABLE == 3, result.stdout + result.stderr
    assert "steps 500 (baseline) vs 10000 (current)" in result.stdout and "0 regression" in result.stdout
    assert "1 not comparable" in result.stdout and "improvement:" not in result.stdout


def test_one_store_with_both_settings_reports_and_gates_them_apart(tmp_path):
    store = plant(
        tmp_path / "s.sqlite",
        "r1",
        [advi(500, -15.6), ("gamma", "pymc.advi", {"steps": 500}, {"elbo": -3.0}, {})],
        tag="a",
    )
    plant(store, "r2", [advi(10_000, -14.8), ("gamma", "pymc.advi", {"steps": 500}, {"elbo": -3.0}, {})], tag="b")
    latest = report.latest_records(store)
    assert sorted(latest.loc[latest["problem"] == "coinflip", "record_id"]) == [1, 3]  # both settings kept
    (paper,) = tables.build_tables(latest, TASKS)
    assert paper.setting_names == ["steps"]  # steps differ on coinflip; learning rate and protocol do not
    markdown = tables.to_markdown([paper])
    assert "| problem | method | steps | ELBO |" in markdown
    assert (
        "| coinflip | pymc.advi | 500 | -15.6 |" in markdown
        and "| coinflip | pymc.advi | 10000 | **-14.8** |" in markdown
    )
    assert "protocol recipe; 500-10,000 steps (see the steps column); 1 seed; units: ELBO in nats" in markdown
    headers, rows = report.summary_rows(latest)
    assert headers[:5] == ["problem", "method", "seed", "steps", "status"]
    # the whole store as a side: each settings compared with itself, the tags across them not at all
    whole = gate.compare(compare.load_side(str(store), store), compare.load_side(str(store), store))
    assert set(whole["verdict"]) == {"unchanged"} and len(set(whole["settings"])) == 3
    tagged = gate.compare(compare.load_side("a", store), compare.load_side("b", store))
    assert tagged.loc[tagged["problem"] == "coinflip", "verdict"].tolist() == ["not comparable"]
    assert "regression" not in set(tagged["verdict"])
    steps = history.history(store, "coinflip", "pymc.advi", "run_s")
    assert steps["not_comparable"].tolist() == ["", "settings differ: steps 500 (before) vs 10000 (now)"]
    assert not steps["change_point"].any()
    result = bench("history", "--store", str(store), "--problem", "coinflip", "--method", "pymc.advi", cwd=tmp_path)
    assert result.returncode == 3 and "not comparable" in result.stdout and "steps 500" in result.stdout


def test_a_cache_hit_and_a_cold_compile_are_not_compared(tmp_path):
    store = tmp_path / "s.sqlite"
    for i, (state, seconds) in enumerate([("miss", 3.7), ("miss", 3.8), ("miss", 3.7), ("miss", 3.75), ("hit", 0.84)]):
        plant(store, f"r{i}", [advi(500, -15.6)[:3] + ({"compile_s": seconds},) + ({"compile_cache": state},)])
    row = (
        gate.compare(compare.load_side("previous", store), compare.load_side("latest", store))
        .set_index("metric")
        .loc["compile_s"]
    )
    assert row["verdict"] == "not comparable" and "compile cache miss vs hit" in row["note"]  # not a 78% "improvement"
    plant(store, "r5", [advi(500, -15.6)[:3] + ({"compile_s": 2.0},) + ({"compile_cache": "hit"},)])
    row = (
        gate.compare(compare.load_side("previous", store), compare.load_side("latest", store))
        .set_index("metric")
        .loc["compile_s"]
    )
    # judged against the one earlier hit only: with the four cold compiles (median 3.7 s) it would be an "improvement"
    assert row["verdict"] == "inconclusive" and "history holds 1 past run(s)" in row["note"]
    shown = report.latest_records(store)
    assert np.isnan(shown["compile_s"].iloc[0]) and shown["compile_cached_s"].iloc[0] == 2.0
    headers, _ = report.summary_rows(shown)
    assert "compile_s cached" in headers and "compile_s" not in headers


def test_not_converged_is_marked_in_every_format_and_never_bold(tmp_path):
    unsettled = {"elbo": -1.0, "elbo_se": 0.01, "converged": 0.0, "convergence_stat": 9.1, "khat": 0.2}
    high_khat = {"elbo": -5.0, "elbo_se": 0.01, "converged": 1.0, "khat": 0.93}
    plain = {"elbo": -6.0, "elbo_se": 0.01, "converged": 1.0, "khat": 0.3}
    store = plant(
        tmp_path / "s.sqlite",
        "r1",
        [
            ("coinflip", "torch.vi", {"steps": 300}, unsettled, {}),
            ("coinflip", "numpyro.svi", {"steps": 300}, high_khat, {}),
            ("coinflip", "pymc.advi", {"steps": 300}, plain, {}),
        ],
    )
    latest = report.latest_records(store)
    (paper,) = tables.build_tables(latest, TASKS)
    by_method = {m: (status, cells) for _, m, status, cells in paper.rows}
    elbo = paper.headers.index("ELBO")
    assert not by_method["torch.vi"][1][elbo].best and by_method["numpyro.svi"][1][elbo].best  # -1.0 is not the best
    assert by_method["torch.vi"][0] == "not converged"
    markdown = tables.to_markdown([paper])
    assert "| not converged ‡ |" in markdown and "**-1**" not in markdown and "**-5**" in markdown
    assert "0.93 †" in markdown and "‡ not converged" in markdown and "† PSIS k-hat > 0.7" in markdown
    latex = tables.to_latex([paper])
    assert r"not converged$^{\ddagger}$" in latex and r"0.930^{\dagger}" in latex and r"\mathbf{-1.00}" not in latex
    assert r"$^{\ddagger}$ not converged" in latex and "protocol not recorded; 300 steps; 1 seed" in latex
    page = tables.to_html_tables([paper])
    assert "not converged ‡" in page and "0.93 †" in page and "<strong>-1</strong>" not in page
    long = pd.read_csv(io.StringIO(report.to_csv(latest)))
    flags = long[long["metric"].isin(["converged", "khat_flag"])].set_index(["method", "metric"])["value"]
    assert flags[("torch.vi", "converged")] == 0 and flags[("numpyro.svi", "khat_flag")] == 1
    summary = bench("report", "--store", str(store), "--format", "summary", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    lines = {line.split("|")[2].strip(): line for line in summary.stdout.splitlines() if line.startswith("| coinflip")}
    assert "‡ not converged" in lines["torch.vi"] and "† k-hat > 0.7" in lines["numpyro.svi"]
    assert "not converged" not in lines["pymc.advi"]


@pytest.mark.slow
def test_a_reused_run_keeps_its_tag_and_a_rerun_that_changes_nothing_adds_no_run(tmp_path):
    store = tmp_path / "s.sqlite"
    args = [
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "testing.exact",
        "--set",
        "steps=5",
        "--repeats",
        "2",
        "--store",
        str(store),
    ]
    assert bench(*args, "--tag", "base", cwd=tmp_path).returncode == 0
    reused = bench(*args, "--tag", "cur", cwd=tmp_path)
    assert reused.returncode == 0 and "reused 1 finished cells" in reused.stdout
    compared = bench("compare", "base", "cur", "--store", str(store), cwd=tmp_path)
    assert (
        compared.returncode == 0 and "1 unchanged" not in compared.stderr and "not a store file" not in compared.stderr
    )
    assert "0 regression" in compared.stdout, compared.stdout + compared.stderr
    for again in (args, [*args, "--tag", "cur"]):  # untagged, or the same tag over the same cells: no new run
        rerun = bench(*again, cwd=tmp_path)
        assert rerun.returncode == 0 and "no run recorded" in rerun.stdout
    tags = sqlite3.connect(store).execute("SELECT tag FROM runs ORDER BY started_at").fetchall()
    assert tags == [("base",), ("cur",)]
    listed = bench("list", "runs", "--store", str(store), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if " base " in line or " cur " in line]
    assert len(lines) == 2 and "│ 1     │ 1   │ 0 " in lines[0] and "│ 1     │ 0   │ 1 " in lines[1]
