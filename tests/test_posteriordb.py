"""The posteriordb suite: shipped archives intact, transformed data right, references from the draws,
derived quantities scored; and (slow) our NUTS on our translations against Stan's draws."""

import hashlib
import json

import numpy as np
import pytest

import suites
from bench.spec.fitting import FitResult
from bench.scoring.fit_metrics import parameter_metrics
from suites.posteriordb import archive
from tests.conftest import requires_blackjax, requires_numpyro

POSTERIORS = suites.problem_names("posteriordb")


def test_shipped_archives_are_posteriordbs_bytes_with_the_licence():
    manifest = json.loads((archive.DATA_DIR / "MANIFEST.json").read_text())
    assert manifest["commit"] == archive.COMMIT
    for path, entry in manifest["files"].items():
        assert hashlib.sha256((archive.DATA_DIR / path).read_bytes()).hexdigest() == entry["sha256"], path
    assert "BSD 3-Clause" in (archive.DATA_DIR / "LICENCE.md").read_text()
    assert {p.config["posteriordb"] for p in map(suites.get_problem, POSTERIORS)} == {
        path.split("/")[0] for path in manifest["files"]
    }


@pytest.mark.parametrize("name", POSTERIORS)
def test_reference_is_the_draws_with_provenance(name):
    problem = suites.get_problem(name)
    data = problem.make_data(0)
    assert np.isfinite(problem.log_joint(problem.central_point(), data))
    reference = problem.reference(data)
    p = reference.provenance
    assert reference.kind == "posteriordb" and p["commit"] == archive.COMMIT and "BSD" in p["licence"]
    assert p["sampler_settings"]["chains"] == 10 and p["diagnostics"]["divergences"] == 0
    assert p["diagnostics"]["r_hat_max"] < 1.01 and all(p["checks_made"].values())
    draws = reference.draws(np.random.default_rng(0), 10**6)
    size = sum(int(np.prod(s)) for s in problem.scored_shapes().values())
    assert len(p["columns"]) == size and all(len(v) == 10_000 for v in draws.values())
    for key, values in draws.items():  # moments are the draws' own (Stan's names are 1-based)
        np.testing.assert_allclose(values.mean(axis=0), reference.mean[key], rtol=0, atol=1e-12)
    first = p["columns"][0]
    name0, index = archive.stan_index(first)
    column = archive.load_draws(problem.config["posteriordb"])[1][:, :, 0].reshape(-1)
    np.testing.assert_array_equal(draws[name0][(slice(None), *index)], column)


def _ols(problem):
    data = problem.make_data(0)
    x = data.train.x if problem.name != "arK" else np.column_stack([np.ones(len(data.train.x)), data.train.x])
    return np.linalg.lstsq(x, data.train.y, rcond=None)[0]


@pytest.mark.parametrize("name", ["kidiq_interaction", "earnings_interaction_z", "mesquite_logvas", "nes2000", "arK"])
def test_transformed_data_reproduce_the_reference_means(name):
    """Flat or weak priors: the posterior mean of the coefficients is OLS on the design, so a wrong
    transformed-data recipe (a missing log, Stan's sd, a dummy) shows up as sds of error."""
    problem = suites.get_problem(name)
    ref = problem.reference(problem.make_data(0))
    keys = ("alpha", "beta") if name == "arK" else ("beta",)
    mean = np.concatenate([np.atleast_1d(ref.mean[k]) for k in keys])
    sd = np.concatenate([np.atleast_1d(ref.sd[k]) for k in keys])
    assert np.max(np.abs(_ols(problem) - mean) / sd) < 0.05  # MCSE of the means is ~0.01 sd


def test_diamonds_prior_makes_the_reference_the_ridge_solution():
    problem = suites.get_problem("diamonds")
    data = problem.make_data(0)
    ref = problem.reference(data)
    x, y, s2 = data.train.x, data.train.y, float(ref.mean["sigma"]) ** 2
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-9)  # the design is centred
    ridge = np.linalg.solve(x.T @ x / s2 + np.eye(x.shape[1]), x.T @ (y - y.mean()) / s2)
    ols = np.linalg.lstsq(x, y - y.mean(), rcond=None)[0]
    assert np.max(np.abs(ridge - ref.mean["b"]) / ref.sd["b"]) < 0.05
    assert np.max(np.abs(ols - ref.mean["b"]) / ref.sd["b"]) > 1.0


def test_eight_schools_scores_the_derived_theta():
    """Latent draws mapped back from the reference's theta score as the reference itself."""
    problem = suites.get_problem("eight_schools_noncentered")
    reference = problem.reference(problem.make_data(0))
    ref = reference.draws(np.random.default_rng(0), 10_000)
    latents = {
        "mu": ref["mu"],
        "tau": ref["tau"],
        "theta_trans": (ref["theta"] - ref["mu"][:, None]) / ref["tau"][:, None],
    }
    fit = FitResult(draws=latents, log_q=None, losses=np.zeros(0), compile_s=0.0, run_s=[1.0], steps=0)
    aggregates, components = parameter_metrics(problem, fit, reference, seed=0)
    assert set(components["std_mean_err"]) == {*(f"theta[{i}]" for i in range(8)), "mu", "tau"}
    assert aggregates["std_mean_err_max"] < 1e-9 and aggregates["w1_sd_max"] < 1e-9
    assert aggregates["sd_ratio_min"] == pytest.approx(1.0, abs=1e-9)
    shifted = {**latents, "mu": latents["mu"] + float(reference.sd["mu"])}  # theta moves with mu
    aggregates, components = parameter_metrics(problem, FitResult(**{**fit.__dict__, "draws": shifted}), reference, 0)
    assert components["std_mean_err"]["mu"] == pytest.approx(1.0, rel=1e-9)
    assert min(components["std_mean_err"][f"theta[{i}]"] for i in range(8)) > 0.5


# Small NUTS runs: the tolerance is 5 combined MCSEs (ours from these draws, the reference's), so it
# scales with the draws actually taken; `bench reference verify --suite posteriordb` runs full strength.
SMALL = {"chains": 4, "warmup": 300, "draws": 300}


# The default run checks one posterior per sampler, the two quickest (a minute each on 2 cores); the
# other 14 cases take 1.5 to 3.5 minutes each, diamonds far more: `-m heavy` and `bench reference verify`
LIGHT_TRANSLATIONS = {("eight_schools_noncentered", "numpyro.nuts"), ("earnings_interaction_z", "blackjax.nuts")}


def _translation_cases():
    """Every posterior with both samplers. The default run checks LIGHT_TRANSLATIONS, so both
    samplers run in CI's time; the rest are `heavy`: `python -m pytest -m heavy` runs them, and
    `bench reference verify --suite posteriordb` runs all 16 at full strength."""
    for name in POSTERIORS:
        for sampler in ("numpyro.nuts", "blackjax.nuts"):
            light = (name, sampler) in LIGHT_TRANSLATIONS
            yield pytest.param(name, sampler, marks=() if light else pytest.mark.heavy, id=f"{name}-{sampler}")


@pytest.mark.slow
@requires_blackjax
@requires_numpyro
@pytest.mark.parametrize("name,sampler", list(_translation_cases()))
def test_nuts_on_our_translation_reproduces_posteriordb(name, sampler):
    from bench.references.build import BuildSettings
    from bench.references.translation_check import check

    result = check(suites.get_problem(name), sampler, BuildSettings(**SMALL))
    assert result["passed"], f"{name} with {sampler}: " + "; ".join(result["failures"])
    assert result["ess_bulk_min"] > 100


def test_translation_check_names_the_parameter_and_the_distance():
    from bench.references.translation_check import compare

    def diag(mean_b):
        components = {
            "a": {"mean": 0.0, "sd": 1.0, "mcse_mean": 0.01, "mcse_sd": 0.01},
            "b": {"mean": mean_b, "sd": 1.0, "mcse_mean": 0.03, "mcse_sd": 0.01},
        }
        return {"components": components}

    ok = compare(diag(0.1), diag(0.0))  # 0.1 / hypot(0.03, 0.03) = 2.4 MCSE
    assert ok["passed"] and ok["worst_component"] == "b" and ok["worst_mcse_multiple"] == pytest.approx(2.357, rel=1e-3)
    bad = compare(diag(0.3), diag(0.0))
    assert not bad["passed"] and bad["failures"] == ["b mean off by 7.07 MCSE (0.3 vs 0)"]
