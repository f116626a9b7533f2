"""Problems from a PyMC model and from a NumPyro model: their log density is the model's own
(float64, against scipy), and pymc.advi, numpyro.svi:auto_normal and blackjax.meanfield_vi run both
(through a plugin distribution made here), scored against reference draws made here with NUTS."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from tests.conftest import ROOT, requires_blackjax, requires_pymc
from tests.test_plugins import make_distribution

Y = np.round(np.random.default_rng(3).normal(1.5, 2.0, size=20), 3)

MODELS = f"""
import numpy as np
from pathlib import Path
from bench.spec.models import ModelProblem
from bench.spec.problem import Recipe

Y = np.array({Y.tolist()!r})


def pymc_model(data):
    import pymc as pm

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=data["y"])
    return model


def numpyro_model(y):
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


DRAWS = Path(__file__).parent / "reference.nc"
RECIPE = Recipe(steps=1500, learning_rate=0.05, particles=4)
PROBLEMS = {{
    "pymc_normal": ModelProblem("pymc_normal", "pymc", pymc_model, {{"y": Y}}, suite="models_test",
                                reference_draws=DRAWS, recipe=RECIPE),
    "numpyro_normal": ModelProblem("numpyro_normal", "numpyro", numpyro_model, {{"y": Y}}, suite="models_test",
                                   reference_draws=DRAWS, recipe=RECIPE),
}}
"""


def exact_log_joint(mu, sigma):
    mu, sigma = np.asarray(mu, dtype=np.float64)[..., None], np.asarray(sigma, dtype=np.float64)[..., None]
    return (
        stats.norm(0, 10).logpdf(mu)
        + stats.halfnorm(scale=5).logpdf(sigma)
        + stats.norm(mu, sigma).logpdf(Y).sum(axis=-1, keepdims=True)
    )[..., 0]


def nuts_reference(path):
    """2 chains x 1,000 NUTS draws of the model (NumPyro), as ArviZ netCDF."""
    import jax
    from numpyro.infer import MCMC, NUTS

    from bench.spec.arviz_setup import arviz

    import importlib.util

    source = Path(path).with_name("nuts_reference_models.py")
    source.write_text(MODELS)
    spec = importlib.util.spec_from_file_location("nuts_reference_models", source)
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)  # the test's own model source, imported as a module
    mcmc = MCMC(
        NUTS(models.numpyro_model),
        num_warmup=500,
        num_samples=1000,
        num_chains=2,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), y=Y)
    samples = mcmc.get_samples(group_by_chain=True)
    arviz().from_dict(posterior={k: np.asarray(v, dtype=np.float64) for k, v in samples.items()}).to_netcdf(str(path))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    make_distribution(
        site,
        "bench-models-test",
        "0.0.1",
        "[bench.suites]\nmodels = models_test\n",
        files={"models_test/__init__.py": MODELS},
    )
    nuts_reference(site / "models_test" / "reference.nc")
    return site


def import_models(site):
    sys.path.insert(0, str(site))
    try:
        import models_test
    finally:
        sys.path.remove(str(site))
    return models_test


@requires_pymc
def test_model_log_density_is_the_models_own_in_float64(site):
    models_test = import_models(site)
    rng = np.random.default_rng(0)
    for name, declared in models_test.PROBLEMS.items():
        problem = declared.problem()
        supports = [(lat.name, lat.prior.support.kind) for lat in problem.latents]
        assert supports == [("mu", "real"), ("sigma", "positive")]
        assert problem.scored_shapes() == {"mu": (), "sigma": ()}
        draws = {"mu": rng.normal(1, 2, size=6), "sigma": rng.gamma(2.0, 1.0, size=6)}
        expected = exact_log_joint(draws["mu"], draws["sigma"])
        # PyTensor's rewrites reorder the sums: 1e-9 apart
        np.testing.assert_allclose(problem.log_joint_draws(draws, problem.make_data(0)), expected, rtol=1e-8)
        point = {"mu": np.float64(0.3), "sigma": np.float64(1.7)}
        np.testing.assert_allclose(problem.log_joint(point, problem.make_data(0)), exact_log_joint(0.3, 1.7), rtol=1e-8)
        reference = problem.reference(problem.make_data(0))
        assert reference.kind == "draws" and reference.provenance["chains"] == 2
        assert reference.provenance["draws_total"] == 2000


@requires_pymc
@requires_blackjax
def test_a_pymc_models_jax_density_first_built_inside_a_jit_serves_every_later_trace(site):
    """PyTensor turns the model's data into JAX arrays as it builds the JAX function. A backend's
    first call is inside its jit: those arrays must not be that trace's, or every later trace fails."""
    import jax
    import jax.numpy as jnp

    from backends.jax_common.target import JaxTarget

    problem = import_models(site).PROBLEMS["pymc_normal"].problem()
    with jax.enable_x64(True):
        target = JaxTarget(problem, problem.make_data(0).train, jnp.float64)
        z = jnp.asarray([0.3, 0.5])  # mu, log sigma
        first = float(jax.jit(target.logdensity)(z))
        gradient = jax.jit(jax.grad(target.logdensity))(z)  # a second trace
    assert first == pytest.approx(exact_log_joint(0.3, np.exp(0.5)) + 0.5, rel=1e-8)  # + log|d sigma / d z|
    assert np.all(np.isfinite(np.asarray(gradient)))


ALL_METHODS = ("pymc.advi", "numpyro.svi:auto_normal", "blackjax.meanfield_vi", "torch.vi")
# By default each route once: a PyMC model in a JAX backend (PyTensor's JAX log density), a NumPyro
# model in PyMC, torch's honest `unsupported`; every model in every family nightly.
ROUTES = {"pymc_normal": ("blackjax.meanfield_vi", "torch.vi"), "numpyro_normal": ("pymc.advi",)}
EVERY = {"pymc_normal": ALL_METHODS, "numpyro_normal": ALL_METHODS}


@pytest.mark.slow
@requires_pymc
@requires_blackjax
@pytest.mark.parametrize("cells", [ROUTES, pytest.param(EVERY, marks=pytest.mark.heavy)], ids=["routes", "every"])
def test_pymc_and_numpyro_models_run_by_every_family_and_scored(site, tmp_path, cells):
    store = tmp_path / "bench.sqlite"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    for problem, methods in cells.items():
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "run",
                "--suite",
                "models_test",
                "--problems",
                problem,
                "--methods",
                ",".join(methods),
                "--repeats",
                "1",
                "--store",
                str(store),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
    con = sqlite3.connect(store)
    records = con.execute("SELECT record_id, problem, method, status, reason FROM records").fetchall()
    metrics = {
        (rid, name): value
        for rid, name, value in con.execute("SELECT record_id, metric, value FROM metrics WHERE component = ''")
    }
    con.close()
    by_cell = {(problem, method): (rid, status, reason) for rid, problem, method, status, reason in records}
    expected = {(problem, method.split(":")[0]) for problem, methods in cells.items() for method in methods}
    assert set(by_cell) == expected
    for (problem, method), (rid, status, reason) in by_cell.items():
        if method == "torch.vi":
            assert status == "unsupported" and "torch" in reason
            continue
        assert status == "ok", (problem, method, reason)
        # against NUTS's draws: the posterior mean within 0.3 reference sd, the sd within 40%
        assert metrics[(rid, "std_mean_err_max")] < 0.3, (problem, method)
        assert 0.6 < metrics[(rid, "sd_ratio_min")] and metrics[(rid, "sd_ratio_max")] < 1.4, (problem, method)
        assert np.isfinite(metrics[(rid, "elbo")]) and np.isfinite(metrics[(rid, "w1_max")])
