"""PyMC backend: the native model agrees with the spec; ADVI, full-rank ADVI and NUTS recover
exact answers; networks reach the seed's accuracy; GPU cells are unsupported rows, never crashes."""

import numpy as np
import pytest

import backends
import suites
from bench import scoring
from bench.records.cells import Cell
from bench.spec.fitting import FitContext
from bench.spec.methods import resolve_settings
from bench.execution.worker import run_cell
from tests.conftest import assert_recovers_coinflip, fit_method, requires_pymc
from tests.test_blackjax import numpy_log_jacobian

pytestmark = requires_pymc


@pytest.mark.parametrize("name", suites.problem_names())
def test_pymc_log_joint_agrees_with_spec(name):
    import pytensor

    from backends.pymc.model import make_model

    problem = suites.get_problem(name)
    data = problem.make_data(0)
    rng = np.random.default_rng(3)
    with pytensor.config.change_flags(floatX="float64"):
        constrained = make_model(problem, data.train, transform=False)  # Jacobian-free, constrained values
        logp = constrained.compile_fn(constrained.logp(), mode="FAST_COMPILE")
        for _ in range(3):
            point = problem.random_point(rng)
            assert float(logp(point)) == pytest.approx(problem.log_joint(point, data), rel=1e-6, abs=1e-9)
        model = make_model(problem, data.train)  # unconstrained: log joint at T(z) plus the log-Jacobians
        outs = [*model.unobserved_value_vars, model.logp(jacobian=True)]
        fn = model.compile_fn(outs, inputs=model.value_vars, mode="FAST_COMPILE", on_unused_input="ignore")
        names = [v.name for v in model.unobserved_value_vars]
        by_latent = {
            lat.name: value
            for lat in problem.latents
            for value in model.value_vars
            if model.values_to_rvs[value].name == lat.name
        }
        for _ in range(3):
            z = {lat.name: rng.normal(0.0, 1.0, size=lat.shape) for lat in problem.latents}
            *values, native = fn({by_latent[k].name: v for k, v in z.items()})
            values = dict(zip(names, values))
            flat_z = np.concatenate([np.ravel(z[lat.name]) for lat in problem.latents])
            expected = problem.log_joint(values, data) + numpy_log_jacobian(problem, flat_z)
            assert float(native) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def fit(problem_name, method_name, overrides=None, draws=4000, dtype="float64"):
    import pytensor

    with pytensor.config.change_flags(floatX=dtype):
        return fit_method(method_name, problem_name, "", overrides, draws=draws, dtype=dtype)


@pytest.mark.slow
def test_advi_recovers_the_coinflip_mean_and_evidence():
    # float32 and the recipe's rate, as the end-to-end cell below: it reuses these compiled modules
    # (PyTensor's C code, a minute cold on 2 cores); 6,000 of the recipe's 10,000 steps suffice
    problem, data, result = fit("coinflip", "pymc.advi", {"steps": "6000"}, dtype="float32")
    assert_recovers_coinflip(problem, data, result)
    assert result.compile_s > 0 and result.info["compile_mode"] == "C"


@pytest.mark.slow
def test_fullrank_advi_recovers_the_gaussian2d_correlation():
    _, _, result = fit("gaussian2d", "pymc.fullrank_advi", {"steps": "20000"})
    correlation = np.corrcoef(result.draws["x"], result.draws["y"])[0, 1]
    assert correlation == pytest.approx(0.8, abs=0.1)


@pytest.mark.slow
def test_nuts_matches_banana_moments_within_five_mcse():
    from bench.spec.arviz_setup import arviz

    az = arviz()  # Numba off, as everywhere in the harness (its mcse of the sd breaks on numpy 2)

    problem, data, result = fit("banana", "pymc.nuts", {"target_accept": "0.95", "draws": "1500"})
    reference = problem.reference(data)
    for name in ("x", "y"):
        chains = result.draws[name].reshape(result.chains, -1)
        mcse = float(np.asarray(az.mcse(chains, method="mean")).squeeze())
        assert abs(chains.mean() - float(reference.mean[name])) < 5 * mcse, name
    metrics = scoring.mcmc_metrics(problem, result)
    assert metrics["r_hat_max"] < 1.05 and metrics["divergences"] == 0


@pytest.mark.slow
# the seed's minibatch recipe in every run; full-batch ADVI (a minute of compiling) nightly
@pytest.mark.parametrize("method", [pytest.param("pymc.advi", marks=pytest.mark.heavy), "pymc.advi_minibatch"])
def test_breast_cancer_reaches_the_seed_accuracy(method):
    # minibatch: 12,000 of the recipe's 40,000 steps; seed 0 reaches 0.91 accuracy either way
    steps = {"steps": "12000"} if method == "pymc.advi_minibatch" else None
    problem, data, result = fit("breast_cancer", method, steps, draws=1000, dtype="float32")
    metrics = scoring.score(problem, data, result, None, 0)["metrics"]
    assert metrics["accuracy"] >= 0.86, metrics
    # the trace is on the full data's scale: PyMC's minibatch loss is divided by n / batch_size
    assert metrics["loss_native"] == pytest.approx(-metrics["elbo"], rel=0.1), metrics


def test_gpu_cells_are_unsupported_rows_with_the_reason():
    for name in ("pymc.advi", "pymc.fullrank_advi", "pymc.advi_minibatch", "pymc.nuts"):
        method = backends.get_method(name)
        reason = method.unsupported(suites.get_problem("moons"), "gpu")
        assert "8359" in reason and "7104" in reason
        cell = Cell(
            suite="bnn",
            problem="moons",
            method=name,
            variant="",
            seed=0,
            device="gpu",
            dtype="float32",
            repeats=1,
            draws=10,
            settings={},
            unsupported=reason,
        )
        record = run_cell(cell)
        assert record.status == "unsupported" and "JAX mode fails for ADVI" in record.reason
    context = FitContext(0, "gpu", "float32", 1, 10)  # and the fit itself refuses, should it ever be reached
    problem = suites.get_problem("coinflip")
    settings = resolve_settings(backends.get_method("pymc.advi"), problem, "", {"steps": "10"})
    record_error = None
    try:
        method = backends.get_method("pymc.advi")
        method.load_fit()(problem, problem.make_data(0), method.make_settings(settings), context)
    except Exception as exc:
        record_error = exc
    assert type(record_error).__name__ == "Unsupported"


def test_minibatch_does_not_apply_to_densities_and_settings_are_checked():
    method = backends.get_method("pymc.advi_minibatch")
    assert "needs observed data" in method.unsupported(suites.get_problem("banana"), "cpu")
    assert method.unsupported(suites.get_problem("moons"), "cpu") is None
    breast = suites.get_problem("breast_cancer")
    assert resolve_settings(backends.get_method("pymc.advi"), breast, "", {})["steps"] == 30_000
    assert resolve_settings(method, breast, "", {})["steps"] == 40_000
    assert resolve_settings(method, breast, "", {})["batch_size"] == 50
    from bench.spec.errors import BenchInputError

    with pytest.raises(BenchInputError, match="compile_mode must be one of C, NUMBA"):
        resolve_settings(method, breast, "", {"compile_mode": "JAX"})
    with pytest.raises(BenchInputError, match="unknown setting 'lr'"):
        resolve_settings(method, breast, "", {"lr": "0.1"})


def test_a_pymc_cell_runs_end_to_end_and_records_its_compile_mode(tmp_path):
    import json
    import sqlite3

    from tests.test_cli import bench

    store = tmp_path / "s.sqlite"
    result = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "pymc.advi",
        "--set",
        "steps=300",
        "--repeats",
        "2",
        "--draws",
        "500",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    status, reason, info = sqlite3.connect(store).execute("SELECT status, reason, info FROM records").fetchone()
    assert status == "ok", reason
    info = json.loads(info)
    assert info["compile_mode"] == "C" and info["floatX"] == "float32" and "slot-0" in info["pytensor_compiledir"]


def test_pytensor_logaddexp_is_stable_with_exact_gradients():
    """pt.logaddexp is log(exp(a) + exp(b)): both underflow far in the bimodal target's tails,
    which turned PyMC's ADVI into NaNs there. The ops namespace binds a stable version."""
    import pytensor
    import pytensor.tensor as pt

    from bench.spec.ops import pytensor_ops

    a, b = pt.dscalars("a", "b")
    out = pytensor_ops().logaddexp(a, b)
    f = pytensor.function([a, b], [out, *pytensor.grad(out, [a, b])], mode="FAST_COMPILE")
    value, grad_a, grad_b = f(-1000.0, -1000.0)
    assert value == pytest.approx(-1000 + np.log(2)) and grad_a == pytest.approx(0.5) and grad_b == pytest.approx(0.5)
    value, grad_a, grad_b = f(-1000.0, -990.0)
    assert value == pytest.approx(np.logaddexp(-1000.0, -990.0))
    assert grad_b == pytest.approx(1 / (1 + np.exp(-10.0))) and grad_a + grad_b == pytest.approx(1.0)


def test_each_concurrent_slot_gets_its_own_pytensor_compiledir(tmp_path):
    from bench.execution.executors import worker_environment

    cell = Cell(
        suite="toy",
        problem="coinflip",
        method="pymc.advi",
        variant="",
        seed=0,
        device="cpu",
        dtype="float64",
        repeats=1,
        draws=10,
    )
    flags = [worker_environment(cell, 1, tmp_path / "cache", slot)["PYTENSOR_FLAGS"] for slot in (0, 1)]
    assert f"compiledir={tmp_path / 'cache' / 'pytensor' / 'slot-0'}" in flags[0]
    assert "slot-1" in flags[1] and all("floatX=float64" in f for f in flags)
