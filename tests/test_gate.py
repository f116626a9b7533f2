"""The gate's rules on synthetic stores: noisy timings, quality against standard errors, compile
time against its history, seeds paired; --confirm's pieces (worktrees, the re-run command, the
re-judging); dashboard exports validated against the formats' published shapes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench.regression import sides as compare
from bench.regression import confirm
from bench.regression import dashboards
from bench.records.cells import Cell
from bench.spec.errors import BenchInputError
from bench.store import Store
from bench.records.record import Record

RNG = np.random.default_rng(1)
# Bencher's published BMF schema (https://bencher.dev/bmf.json)
BMF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "patternProperties": {
        ".+": {
            "type": "object",
            "patternProperties": {
                ".+": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {
                        "value": {"type": "number"},
                        "lower_value": {"type": "number"},
                        "upper_value": {"type": "number"},
                    },
                }
            },
        }
    },
}
# github-action-benchmark's customSmallerIsBetter / customBiggerIsBetter input: a list of
# {name, unit, value} with optional range and extra (strings), as its README documents
GAB_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "unit", "value"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "unit": {"type": "string"},
            "value": {"type": "number"},
            "range": {"type": "string"},
            "extra": {"type": "string"},
        },
    },
}


def write_run(
    path,
    run_id,
    seeds,
    problem="coinflip",
    cpu="CPU A",
    command="bench run --suite toy",
    run_s=None,
    metrics=None,
    arrays=None,
):
    """One run: per seed, its timed repeats and scalar metrics (dicts keyed by seed)."""
    with Store(path, create=True) as store:
        store.begin_run(run_id, run_id, command, None, {"cpu": cpu, "gpus": [], "commit": "abc"}, f"env-{cpu}")
        for seed in seeds:
            cell = Cell("toy", problem, "numpyro.svi", "auto_normal", seed, "cpu", "float32", 5, 100, {})
            record = Record(cell, "ok")
            samples = run_s[seed] if run_s else RNG.normal(1.0, 0.005, 5)
            record.timing = {"compile_s": [1.0], "run_s": list(map(float, samples))}
            record.metrics = {"steps": 1000.0, **(metrics or {}).get(seed, {})}
            record.arrays = arrays or {}
            store.add_record(run_id, record)
    return path


def table_for(path, base="previous", current="latest", **thresholds):
    sides = compare.load_side(base, path), compare.load_side(current, path)
    from bench.regression import gate

    return gate.compare(*sides, compare.Thresholds(**thresholds))


def row(table, metric):
    return table[table["metric"] == metric].iloc[0]


def test_slowdown_under_load_or_with_scattered_repeats_is_noisy(tmp_path):
    store = tmp_path / "s.sqlite"
    write_run(store, "r1", [0, 1])
    slower = {s: RNG.normal(1.4, 0.005, 5) for s in (0, 1)}
    write_run(
        store,
        "r2",
        [0, 1],
        run_s=slower,
        metrics={0: {"load_1m": 5.0, "cores": 2.0}, 1: {"load_1m": 0.5, "cores": 2.0}},
    )
    table = table_for(store)
    assert row(table, "run_s")["verdict"] == "noisy"
    assert "load 5.0 on 2 cores" in row(table, "run_s")["note"] and "seed 1: regression" in row(table, "run_s")["note"]
    scattered = {s: np.array([1.4, 1.45, 3.1, 1.42, 1.41]) for s in (0, 1)}
    write_run(store, "r3", [0, 1], run_s=scattered)
    assert "repeats spread 2.2x" in row(table_for(store, "r1", "r3"), "run_s")["note"]
    quiet = write_run(tmp_path / "q.sqlite", "r1", [0, 1])
    write_run(quiet, "r2", [0, 1], run_s=slower, metrics={s: {"load_1m": 1.0, "cores": 2.0} for s in (0, 1)})
    assert row(table_for(quiet), "run_s")["verdict"] == "regression"


def test_quality_needs_k_standard_errors_and_the_minimum_effect(tmp_path):
    store = tmp_path / "s.sqlite"
    write_run(
        store, "r1", [0, 1], metrics={s: {"elbo": -10.0, "elbo_se": 0.2, "auc": 0.90, "auc_se": 0.01} for s in (0, 1)}
    )
    # ELBO -10.6: 6% worse but 2.1 combined SE (inconclusive); AUC 0.80: 11% worse and 7 SE (regression)
    write_run(
        store, "r2", [0, 1], metrics={s: {"elbo": -10.6, "elbo_se": 0.2, "auc": 0.80, "auc_se": 0.01} for s in (0, 1)}
    )
    table = table_for(store)
    assert row(table, "elbo")["verdict"] == "inconclusive" and "within 3 combined SE" in row(table, "elbo")["note"]
    assert row(table, "auc")["verdict"] == "regression" and "7.1 combined SE" in row(table, "auc")["note"]
    assert row(table_for(store, k_se=2.0), "elbo")["verdict"] == "regression"
    # two seeds a side: a rank test could never reach p < 0.05; the SE rule does, seed by seed
    assert row(table, "auc")["seeds"] == 2


def test_seeds_are_paired_never_pooled(tmp_path):
    store = tmp_path / "s.sqlite"
    write_run(store, "r1", [0, 1], metrics={0: {"elbo": -10.0, "elbo_se": 0.01}, 1: {"elbo": -50.0, "elbo_se": 0.01}})
    write_run(store, "r2", [1], metrics={1: {"elbo": -50.0, "elbo_se": 0.01}})  # seed 1 only: unchanged
    table = table_for(store)
    assert row(table, "elbo")["verdict"] == "unchanged"
    assert "seeds on one side only, not compared: 0" in row(table, "elbo")["note"]
    write_run(store, "r3", [2], metrics={2: {"elbo": -10.0, "elbo_se": 0.01}})
    assert table_for(store, "r1", "r3")["verdict"].tolist() == ["not comparable"]


def test_compile_time_is_gated_against_its_own_history(tmp_path):
    store = tmp_path / "s.sqlite"

    def night(run_id, compile_s):
        write_run(store, run_id, [0], metrics={0: {"compile_s": compile_s}})

    night("r1", 1.0)
    night("r2", 2.0)
    assert "history holds 1 past run(s), needs 3" in row(table_for(store), "compile_s")["note"]
    for i, value in enumerate([1.02, 0.98, 1.01]):
        night(f"r3{i}", value)
    night("r4", 1.6)
    assert row(table_for(store), "compile_s")["verdict"] == "regression"
    night("r5", 1.08)  # 8% above the median: under the 10% minimum effect
    assert row(table_for(store), "compile_s")["verdict"] == "unchanged"


def bench_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )


def test_noisy_is_not_a_failure_without_confirm(tmp_path):
    store = tmp_path / "s.sqlite"
    write_run(store, "r1", [0])
    write_run(store, "r2", [0], run_s={0: RNG.normal(1.5, 0.005, 5)}, metrics={0: {"load_1m": 9.0, "cores": 2.0}})
    result = bench_cli("compare", "previous", "latest", "--store", str(store), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 noisy" in result.stdout and "--confirm" in result.stdout
    # --confirm rebuilds the recorded commit: one that this repository lacks is a one-line error (exit 2)
    bad = bench_cli("compare", "previous", "latest", "--store", str(store), "--confirm", cwd=tmp_path)
    assert (
        bad.returncode == 2 and "commit abc is not in the repository" in bad.stderr and "fetch-depth: 0" in bad.stderr
    )


def test_run_arguments_repeat_the_recorded_run_on_the_flagged_cells(tmp_path):
    command = (
        "bench run --suite nightly --force --tag nightly-7 --store results/n.sqlite --set steps=20 --seeds=2 --jobs 2"
    )
    args = confirm.run_arguments(command, ["coinflip"], ["testing.exact"], tmp_path / "c.sqlite", "confirm-1")
    assert args[:2] == ["run", "--suite"] and "--force" in args and args.count("--force") == 1
    assert ["--set", "steps=20"] == args[args.index("--set") : args.index("--set") + 2] and "--seeds" in args
    assert "--jobs" not in args and "nightly-7" not in args and "results/n.sqlite" not in args
    assert args[-5:] == ["--store", str(tmp_path / "c.sqlite"), "--force", "--tag", "confirm-1"]
    assert args[args.index("--problems") + 1] == "coinflip" and args[args.index("--methods") + 1] == "testing.exact"
    with pytest.raises(BenchInputError, match="no recorded `bench run` command"):
        confirm.run_arguments("bench report", ["coinflip"], ["m"], tmp_path / "c.sqlite", "t")


def git(repo, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_checkout_makes_a_worktree_of_another_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "code.py").write_text("SLEEP = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "code.py").write_text("SLEEP = 2\n")
    git(repo, "commit", "-qam", "two")
    version = confirm.checkout(
        "baseline", {"commit": first, "dirty": False, "diff_sha": None}, repo, tmp_path / "scratch"
    )
    assert version.tree != repo and (version.tree / "code.py").read_text() == "SLEEP = 1\n"
    dirty = confirm.checkout("current", {"commit": first, "dirty": True, "diff_sha": "x"}, repo, tmp_path / "scratch")
    assert dirty.tree == repo and "working tree as it is" in dirty.description
    with pytest.raises(BenchInputError, match="fetch-depth: 0"):
        confirm.checkout("baseline", {"commit": "0" * 40, "dirty": False, "diff_sha": None}, repo, tmp_path / "scratch")


def best(seed_rounds: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "suite": "toy",
                "problem": "coinflip",
                "method": "m",
                "device": "cpu",
                "dtype": "float32",
                "seed": s,
                "best": min(r),
                "steps": 100.0,
                "rounds": r,
            }
            for s, r in seed_rounds.items()
        ]
    )


def test_rejudge_keeps_only_changes_that_survive_on_every_seed():
    flagged = pd.DataFrame(
        [
            {
                "suite": "toy",
                "problem": "coinflip",
                "method": "m",
                "device": "cpu",
                "dtype": "float32",
                "metric": metric,
                "verdict": "noisy",
                "note": "x",
            }
            for metric in ("run_s", "steps_per_s")
        ]
    )
    keys = confirm.flagged_cells(flagged)
    base = best({0: [1.0, 1.02, 1.01], 1: [1.0, 1.01, 1.0]})
    same = confirm.rejudge(
        flagged, keys, base, best({0: [1.03, 1.01, 1.2], 1: [1.02, 1.0, 1.3]}), compare.Thresholds(), 3
    )
    assert same["verdict"].tolist() == ["unchanged", "unchanged"] and "did not survive" in same["note"].iloc[0]
    slow = confirm.rejudge(
        flagged, keys, base, best({0: [2.0, 2.1, 2.05], 1: [1.98, 2.0, 2.2]}), compare.Thresholds(), 3
    )
    assert slow["verdict"].tolist() == ["regression", "regression"]
    assert "slower in 3/3 rounds" in slow["note"].iloc[0]
    one_seed = confirm.rejudge(
        flagged, keys, base, best({0: [2.0, 2.1, 2.05], 1: [1.0, 1.0, 1.0]}), compare.Thresholds(), 3
    )
    assert one_seed["verdict"].tolist() == ["unchanged", "unchanged"]


def test_dashboard_exports_match_the_documented_shapes(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    store = tmp_path / "s.sqlite"
    write_run(store, "r1", [0, 1], metrics={s: {"elbo": -10.0 - s, "elbo_se": 0.1, "compile_s": 1.0} for s in (0, 1)})
    write_run(store, "r2", [0, 1], metrics={s: {"elbo": -10.0 - s, "elbo_se": 0.1, "compile_s": 1.0} for s in (0, 1)})
    for format in dashboards.FORMATS:
        out = tmp_path / f"{format}.json"
        result = bench_cli("export", "--store", str(store), "--format", format, "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        compared = tmp_path / f"compare-{format}.json"
        result = bench_cli(
            "compare",
            "previous",
            "latest",
            "--store",
            str(store),
            "--out",
            str(compared),
            "--format",
            format,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        for path in (out, compared):
            if format == "bencher":
                data = json.loads(path.read_text())
                jsonschema.validate(data, BMF_SCHEMA)
                measures = data["toy/coinflip/numpyro.svi:auto_normal/cpu/float32"]
                assert measures["elbo"] == {"value": -10.5, "lower_value": -11.0, "upper_value": -10.0}
                assert {"run-s", "steps-per-s", "compile-s"} <= set(measures)
            else:
                smaller, bigger = json.loads(path.read_text()), json.loads(dashboards.bigger_path(path).read_text())
                jsonschema.validate(smaller, GAB_SCHEMA)
                jsonschema.validate(bigger, GAB_SCHEMA)
                names = {e["name"].rsplit(" ", 1)[1]: e for e in smaller + bigger}
                assert {e["name"].rsplit(" ", 1)[1] for e in smaller} == {"run_s", "compile_s"}
                assert (
                    names["elbo"]["value"] == -10.5
                    and names["elbo"]["range"] == "± 0.5"
                    and names["run_s"]["unit"] == "s"
                )
    bad = bench_cli("export", "--store", str(store), "--format", "nope", "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert bad.returncode == 2 and "valid choices: bencher, csv, github-action-benchmark, parquet" in bad.stderr


def test_csv_export_encodes_array_blobs_as_base64(tmp_path):
    store = write_run(tmp_path / "s.sqlite", "r1", [0], arrays={"draws": np.arange(6, dtype=float).reshape(2, 3)})
    result = bench_cli("export", "--store", str(store), "--out", str(tmp_path / "csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    arrays = pd.read_csv(tmp_path / "csv" / "arrays.csv")
    assert not arrays["data"].str.startswith("b'").any()
    decoded = np.frombuffer(base64.b64decode(arrays["data"].iloc[0]), dtype="<f4").reshape(
        json.loads(arrays["shape"].iloc[0])
    )
    np.testing.assert_array_equal(decoded, np.arange(6).reshape(2, 3))


def test_standard_errors_the_worker_stores():
    from sklearn.metrics import roc_auc_score

    from bench.scoring import predictive
    from bench import scoring
    from tests.conftest import fit_method

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 600), 0, 1)
    auc = roc_auc_score(y, p)
    n1, n0 = y.sum(), len(y) - y.sum()
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    hanley_mcneil = np.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n1 * n0))
    assert predictive.auc_standard_error(y, p) == pytest.approx(hanley_mcneil, rel=0.2)
    problem, data, fit = fit_method("testing.exact", "coinflip", draws=4000)  # exact draws: sd ratio 1
    metrics = scoring.score(problem, data, fit, problem.reference(data), 0)["metrics"]
    assert metrics["std_mean_err_max_se"] == pytest.approx(1 / np.sqrt(4000), rel=0.1)
    assert metrics["run_s_spread"] >= 1.0
