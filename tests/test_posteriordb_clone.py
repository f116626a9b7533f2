"""posteriordb from a local clone: a small fake clone in posteriordb's layout, written here. Its
posteriors with a PyMC model and reference draws are listed and run; a broken model is an error row."""

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, requires_numpyro, requires_pymc

GOOD = """import numpy as np
import pymc3 as pm3


def model(data):
    with pm3.Model() as m:
        mu = pm3.Normal("mu", mu=0, sd=10)
        pm3.Normal("y", mu=mu, sd=1, observed=np.array(data["y"]))
    return m
"""
BROKEN = "def model(data):\n    raise RuntimeError('this model does not build')\n"


def write_clone(root):
    """Three posteriors: one with a PyMC3 model and draws, one whose model fails, one Stan-only."""
    db = root / "posterior_database"
    for folder in (
        "posteriors",
        "models/info",
        "models/pymc3",
        "models/stan",
        "data/data",
        "reference_posteriors/draws/draws",
    ):
        (db / folder).mkdir(parents=True)
    y = [0.8, 1.4, 0.3, 1.9, 1.1]
    (db / "data/data/five.json").write_text(json.dumps({"N": 5, "y": y}))
    precision = 1 / 100 + len(y)  # mu ~ N(0, 10^2), y ~ N(mu, 1): the posterior is normal, exactly
    rng = np.random.default_rng(0)
    chains = [{"mu": list(rng.normal(sum(y) / precision, precision**-0.5, size=200))} for _ in range(4)]
    for name, code in (("normal_mean", GOOD), ("broken", BROKEN), ("stan_only", None)):
        implementations = {"stan": {"model_code": f"models/stan/{name}.stan"}}
        if code is not None:
            (db / f"models/pymc3/{name}.py").write_text(code)
            implementations["pymc3"] = {"model_code": f"models/pymc3/{name}.py"}
        info = {"name": name, "model_implementations": implementations}
        (db / f"models/info/{name}.info.json").write_text(json.dumps(info))
        posterior = f"five-{name}"
        (db / f"posteriors/{posterior}.json").write_text(
            json.dumps(
                {"name": posterior, "model_name": name, "data_name": "five", "reference_posterior_name": posterior}
            )
        )
        (db / f"reference_posteriors/draws/draws/{posterior}.json").write_text(json.dumps(chains))
    return root


def bench(*args, cwd, clone):
    """`bench run` names the clone with --posteriordb, other commands through BENCH_POSTERIORDB."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("BENCH_POSTERIORDB", None)
    if args[0] == "run":
        args = (*args, "--posteriordb", str(clone))
    else:
        env["BENCH_POSTERIORDB"] = str(clone)
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def test_clone_posteriors_with_a_pymc_model_and_draws_become_problems(tmp_path):
    from suites.posteriordb import clone

    found = clone.problems(write_clone(tmp_path / "clone"))
    assert sorted(found) == ["five-broken", "five-normal_mean"]
    assert all(p.suite == "posteriordb" and p.reference_kind == "posteriordb" for p in found.values())


@pytest.mark.slow  # the translation check runs NUTS (4 x 1,000) before the cells
@requires_pymc
@requires_numpyro
def test_clone_listed_and_run_and_a_broken_model_is_a_row(tmp_path):
    clone_dir = write_clone(tmp_path / "clone")
    listed = bench("list", "suites", cwd=tmp_path, clone=clone_dir)
    assert listed.returncode == 0 and "five-normal_mean" in listed.stdout
    assert "eight_schools_noncentered" not in listed.stdout
    store = tmp_path / "bench.sqlite"
    ran = bench(
        "run",
        "--suite",
        "posteriordb",
        "--methods",
        "numpyro.svi:auto_normal",
        "--set",
        "steps=1500",
        "--repeats",
        "1",
        "--store",
        str(store),
        cwd=tmp_path,
        clone=clone_dir,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    con = sqlite3.connect(store)
    rows = {p: (rid, s, r) for rid, p, s, r in con.execute("SELECT record_id, problem, status, reason FROM records")}
    metrics = dict(
        con.execute(
            "SELECT metric, value FROM metrics WHERE record_id = ? AND component = ''", (rows["five-normal_mean"][0],)
        )
    )
    con.close()
    assert rows["five-broken"][1] == "error" and "does not build" in rows["five-broken"][2]
    assert rows["five-normal_mean"][1] == "ok" and metrics["std_mean_err_max"] < 0.3
    assert 0.7 < metrics["sd_ratio_min"] < 1.3
    (verdict,) = (store.parent / "references" / "translation").glob("five-normal_mean-*.json")  # kept: not re-run
    assert '"passed": true' in verdict.read_text()
