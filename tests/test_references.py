"""MCMC references: gates, verdicts, staleness, provenance, and agreement with exact references."""

import json
import shutil
import sqlite3

import numpy as np
import pytest

import suites
from bench.references import build as reference_build
from bench.references import store as reference_store
from bench.spec.errors import BenchInputError
from bench.execution.plan import Request, build_plan
from tests.conftest import requires_numpyro
from tests.test_cli import bench

pytestmark = requires_numpyro
SHORT = {"chains": 2, "warmup": 50, "draws": 50, "thin": 1, "max_tree_depth": 5}  # short trees: a failed build, fast


def short_build(tmp_path, name="sine"):
    problem = suites.get_problem(name)
    settings = reference_build.settings_for(problem, SHORT)
    return problem, reference_build.build(problem, 0, "numpyro.nuts", settings, tmp_path / "references")


@pytest.fixture(scope="module")
def built_sine(tmp_path_factory):
    """One short build of sine's reference for the tests below (a build costs hundreds of eager
    compiles in NumPyro's initialisation); each test works on a copy of its folder."""
    folder = tmp_path_factory.mktemp("built")
    problem, stored = short_build(folder)
    return problem, stored, folder / "references"


@pytest.fixture
def sine_build(built_sine, tmp_path):
    """(problem, stored reference): the module's short sine build, copied under this test's tmp_path/references."""
    problem, _, references = built_sine
    shutil.copytree(references, tmp_path / "references")
    return problem, reference_store.find(tmp_path / "references", "sine", 0)


def test_a_short_chain_fails_the_gates_and_is_stored_as_failed(built_sine):
    problem, stored, references = built_sine  # read only
    assert stored.netcdf.exists() and stored.provenance_path.exists()
    provenance = json.loads(stored.provenance_path.read_text())
    assert provenance["verdict"] == "failed"
    assert "chains 2 < 4" in provenance["failures"] and "draws 100 < 10000" in provenance["failures"]
    for key in ("sampler", "settings", "seed", "versions", "spec_hash", "data_hash", "diagnostics", "divergences"):
        assert key in provenance
    assert provenance["data_hash"] == problem.make_data(0).fingerprint()
    reference = reference_store.to_reference(reference_store.find(references, "sine", 0), problem)
    assert reference.verdict == "failed" and reference.kind == "mcmc"
    assert reference.predictive_test.shape == (len(problem.make_data(0).test),)
    assert len(reference.draws(np.random.default_rng(0), 30)["w1"]) == 30


def test_gates_pass_and_fail_on_the_numbers():
    diag = {"r_hat_max": 1.005, "ess_bulk_min": 900.0, "ess_tail_min": 401.0}
    assert reference_build.gate_failures(diag, 4, 10_000) == []
    failing = reference_build.gate_failures({**diag, "r_hat_max": 1.02, "ess_tail_min": 399.0}, 4, 10_000)
    assert failing == ["R-hat 1.02 > 1.01", "tail ESS 399 < 400"]
    assert reference_build.gate_failures({**diag, "r_hat_max": float("nan")}, 4, 10_000) == ["R-hat nan > 1.01"]


def test_a_stale_reference_is_refused(tmp_path, sine_build):
    problem, stored = sine_build
    provenance = json.loads(stored.provenance_path.read_text())
    provenance["data_hash"] = "0" * 64  # as if the data recipe had changed since the build
    stored.provenance_path.write_text(json.dumps(provenance))
    request = Request(
        suite="bnn", problems=["sine"], methods=["numpyro.svi:auto_normal"], references=tmp_path / "references"
    )
    with pytest.raises(BenchInputError, match="stale .*data changed.*bench reference build --problems sine"):
        build_plan(request)
    store = tmp_path / "bench.sqlite"
    result = bench(
        "run",
        "--suite",
        "bnn",
        "--problems",
        "sine",
        "--methods",
        "numpyro.svi:auto_normal",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "stale" in result.stderr and not store.exists()
    verify = bench("reference", "verify", "--references", str(tmp_path / "references"), cwd=tmp_path)
    assert verify.returncode == 1 and "stale" in verify.stdout


def test_scores_against_a_failed_reference_say_so(tmp_path, sine_build):
    store = tmp_path / "bench.sqlite"
    result = bench(
        "run",
        "--suite",
        "bnn",
        "--problems",
        "sine",
        "--methods",
        "numpyro.svi:auto_normal",
        "--set",
        "steps=300",
        "--repeats",
        "1",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = bench("report", "--store", str(store), cwd=tmp_path).stdout
    assert "ref agree" in report and "scored against a reference that failed its gates" in report
    con = sqlite3.connect(store)
    status, reason = con.execute("SELECT status, reason FROM records").fetchone()
    agreement = con.execute("SELECT value FROM metrics WHERE metric = 'ref_agreement'").fetchone()
    con.close()
    assert status == "ok" and "failed its gates" in reason and 0 <= agreement[0] < 1


def test_reference_cli_rejects_bad_input(tmp_path):
    for args, message in [
        (("build", "--problems", "nope"), "unknown problem"),
        (("build", "--sampler", "torch.hmc"), "unknown reference sampler"),
        (("build", "--set", "chainz=4"), "unknown reference setting"),
        (("build", "--set", "target_accept=1.5"), "out of range"),
    ]:
        result = bench("reference", *args, "--references", str(tmp_path / "refs"), cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "refs").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    # coinflip and banana in every run; the other targets nightly (each is a NUTS run of seconds)
    [
        n if n in ("coinflip", "banana") else pytest.param(n, marks=pytest.mark.heavy)
        for n in suites.problem_names("toy")
    ],
)
def test_nuts_references_agree_with_exact_references(tmp_path, name):
    """inference-gym's check: means and sds within 5 Monte Carlo standard errors of the exact ones.
    The bimodal target's modes are exp(-50) apart: each NUTS chain stays in the mode it finds; when
    all find the same one the gates (blind to a mode no chain visits) pass and this check catches it."""
    problem = suites.get_problem(name)
    stored = reference_build.build(problem, 0, "numpyro.nuts", reference_build.settings_for(problem, {}), tmp_path)
    check = stored.provenance["exact_check"]
    if name == "bimodal":  # caught either by R-hat (chains split between modes) or by the exact check
        assert stored.verdict == "failed" and (
            not check["passed"] or stored.provenance["diagnostics"]["r_hat_max"] > 1.01
        )
        return
    assert stored.provenance["failures"] == [] and stored.verdict == "ok"
    assert check["passed"] and check["worst_mcse_multiple"] <= 5
