"""Build and check NUTS reference posteriors (posteriordb-style gates, inference-gym's 5-MCSE check).

A build runs a NUTS method of the harness (numpyro.nuts or blackjax.nuts) in float64 with at
least 4 chains and 10,000 kept draws, computes rank-normalised split R-hat and bulk and tail ESS
per component with ArviZ, and stores the draws with a verdict: "ok" when every gate holds,
"failed" with the failing numbers otherwise. Networks also store predictive means on the test
points and a grid, with their own R-hat (weights are not identifiable; predictions are).
"""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from datetime import datetime, UTC
from time import perf_counter
from typing import Any

import numpy as np

from bench.runtime import environment
from bench.spec.draws import flatten
from bench.spec.errors import unknown
from bench.spec.problem import Dataset, Problem
from bench.scoring.fit_metrics import predictions
from bench.references.store import StoredReference, save

SAMPLERS = ("numpyro.nuts", "blackjax.nuts")
GATES = {"chains_min": 4, "draws_min": 10_000, "r_hat_max": 1.01, "ess_bulk_min": 400.0, "ess_tail_min": 400.0}
MCSE_TOLERANCE = 5.0  # inference-gym: an MCMC reference agrees with the exact one within 5 MCSE
KEPT_PREDICTIVE_DRAWS = 1000  # per-draw test predictions stored for per-draw metrics and plots
GRID_DRAWS = 2000


@dataclass(frozen=True)
class BuildSettings:
    chains: int = 4
    warmup: int = 2000
    draws: int = 2500  # kept per chain, after thinning: 4 x 2,500 = 10,000
    thin: int = 1
    target_accept: float = 0.95  # curved targets (banana) diverge at NUTS's default 0.8
    max_tree_depth: int = 10


def settings_for(problem: Problem, overrides: dict[str, Any]) -> BuildSettings:
    """Generic < the problem's recipe (Recipe.reference) < the user's overrides."""
    return replace(BuildSettings(), **{**problem.recipe.reference, **overrides})


def per_chain(matrix: np.ndarray, chains: int) -> np.ndarray:
    return matrix.reshape(chains, -1, matrix.shape[1])


def _scalar(value) -> float:
    """ArviZ returns a 1-element array for a (chain, draw) array; numpy 2 refuses float() of it."""
    return float(np.asarray(value).reshape(-1)[0])


def diagnostics(names: list[str], matrix: np.ndarray, chains: int) -> dict[str, Any]:
    """Per component: mean, sd, their Monte Carlo standard errors, R-hat, bulk and tail ESS."""
    from bench.spec.arviz_setup import arviz

    az = arviz()

    chained = per_chain(matrix, chains)
    components = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, name in enumerate(names):
            x = chained[:, :, j]
            components[name] = {
                "mean": float(x.mean()),
                "sd": float(x.std(ddof=1)),
                "mcse_mean": _scalar(az.mcse(x, method="mean")),
                "mcse_sd": _scalar(az.mcse(x, method="sd")),
                "r_hat": _scalar(az.rhat(x)),
                "ess_bulk": _scalar(az.ess(x, method="bulk")),
                "ess_tail": _scalar(az.ess(x, method="tail")),
            }
    values = components.values()
    return {
        "r_hat_max": max(c["r_hat"] for c in values),
        "ess_bulk_min": min(c["ess_bulk"] for c in values),
        "ess_tail_min": min(c["ess_tail"] for c in values),
        "components": components,
    }


def gate_failures(diag: dict[str, Any], chains: int, draws_total: int) -> list[str]:
    failures = []
    if chains < GATES["chains_min"]:
        failures.append(f"chains {chains} < {GATES['chains_min']}")
    if draws_total < GATES["draws_min"]:
        failures.append(f"draws {draws_total} < {GATES['draws_min']}")
    if not diag["r_hat_max"] <= GATES["r_hat_max"]:
        failures.append(f"R-hat {diag['r_hat_max']:.4g} > {GATES['r_hat_max']}")
    for kind in ("bulk", "tail"):
        value = diag[f"ess_{kind}_min"]
        if not value >= GATES[f"ess_{kind}_min"]:
            failures.append(f"{kind} ESS {value:.4g} < {GATES[f'ess_{kind}_min']:.0f}")
    return failures


def exact_check(problem: Problem, data: Dataset, diag: dict[str, Any]) -> dict[str, Any] | None:
    """Means and sds within 5 MCSE of the exact reference's, per component (toy problems)."""
    if problem.reference is None:
        return None
    exact = problem.reference(data)
    shapes = {lat.name: lat.shape for lat in problem.latents}
    names, mean = flatten({k: np.asarray(v)[None] for k, v in exact.mean.items()}, shapes)
    _, sd = flatten({k: np.asarray(v)[None] for k, v in exact.sd.items()}, shapes)
    rows = {}
    for name, m, s in zip(names, mean[0], sd[0]):
        c = diag["components"][name]
        rows[name] = {
            "z_mean": abs(c["mean"] - m) / c["mcse_mean"],
            "z_sd": abs(c["sd"] - s) / c["mcse_sd"],
            "exact_mean": float(m),
            "exact_sd": float(s),
        }
    worst = max(max(r["z_mean"], r["z_sd"]) for r in rows.values())
    return {
        "exact_kind": exact.kind,
        "worst_mcse_multiple": worst,
        "passed": bool(worst <= MCSE_TOLERANCE),
        "components": rows,
    }


def check_draws(problem: Problem, data: Dataset, draws: dict[str, np.ndarray], chains: int):
    """(diagnostics, exact check or None, failures) of a reference's draws: one judgement for build and verify."""
    shapes = {lat.name: lat.shape for lat in problem.latents}
    names, matrix = flatten(draws, shapes)
    diag = diagnostics(names, matrix, chains)
    failures = gate_failures(diag, chains, len(matrix))
    if not np.all(np.isfinite(matrix)):
        failures.append("non-finite draws")
    check = exact_check(problem, data, diag)
    if check is not None and not check["passed"]:
        failures.append(
            f"disagrees with the {check['exact_kind']} reference: "
            f"{check['worst_mcse_multiple']:.3g} MCSE > {MCSE_TOLERANCE:g}"
        )
    return diag, check, failures


def predictive_groups(problem: Problem, data: Dataset, draws: dict[str, np.ndarray], chains: int):
    """(predictions dataset, constant_data dataset, diagnostics) for a network reference."""
    from bench.spec.arviz_setup import arviz

    az = arviz()
    import xarray as xr

    test_draws = predictions(problem, draws, data.test.x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chained = test_draws.reshape(chains, -1, test_draws.shape[1])
        r_hat = np.array([_scalar(az.rhat(chained[:, :, i])) for i in range(chained.shape[2])])
    total = len(test_draws)
    keep = np.linspace(0, total - 1, min(KEPT_PREDICTIVE_DRAWS, total)).astype(int)
    variables = {
        "test_mean": (("test_point",), test_draws.mean(axis=0)),
        "test_draws": (("kept_draw", "test_point"), test_draws[keep].astype(np.float32)),
    }
    constants = {"x_test": (("test_point", "input"), np.asarray(data.test.x))}
    if problem.grid is not None:
        grid = problem.grid()
        rows = np.linspace(0, total - 1, min(GRID_DRAWS, total)).astype(int)
        grid_draws = predictions(problem, {k: v[rows] for k, v in draws.items()}, grid)
        low, high = np.quantile(grid_draws, [0.03, 0.97], axis=0)
        variables.update(
            grid_mean=(("grid_point",), grid_draws.mean(axis=0)),
            grid_low=(("grid_point",), low),
            grid_high=(("grid_point",), high),
        )
        constants["x_grid"] = (("grid_point", "input"), grid)
    summary = {"test_r_hat_max": float(np.max(r_hat)), "test_r_hat_median": float(np.median(r_hat))}
    return xr.Dataset(variables), xr.Dataset(constants), summary


def in_float64(sampler: str) -> AbstractContextManager:
    """The scope in which an in-process fit of `sampler` computes in float64 (its framework's
    runtime record says how; scoped, so callers in float32 stay so)."""
    import backends

    precision = backends.runtime_of(sampler).framework.precision
    return precision("float64") if precision is not None else nullcontext()


def build(problem: Problem, seed: int, sampler: str, settings: BuildSettings, directory) -> StoredReference:
    """Run NUTS, check the gates, and store the reference with its verdict and provenance."""
    if sampler not in SAMPLERS:
        raise unknown("reference sampler", sampler, SAMPLERS)
    from bench.spec.arviz_setup import arviz

    az = arviz()
    from backends import get_method
    from bench.spec.fitting import FitContext

    data = problem.make_data(seed)
    context = FitContext(seed=seed, device="cpu", dtype="float64", repeats=1, draws=0)
    start = perf_counter()
    with in_float64(sampler):  # references are float64 (scoped: callers in float32 stay so)
        method = get_method(sampler)
        fit = method.load_fit()(problem, data, method.make_settings(asdict(settings)), context)
    wall_s = perf_counter() - start
    diag, check, failures = check_draws(problem, data, fit.draws, settings.chains)
    posterior = {lat.name: fit.draws[lat.name].reshape(settings.chains, -1, *lat.shape) for lat in problem.latents}
    dims = {lat.name: [f"{lat.name}_dim_{i}" for i in range(len(lat.shape))] for lat in problem.latents}
    stats = {name: np.asarray(v).reshape(settings.chains, -1) for name, v in fit.sample_stats.items()}
    if "diverging" in stats:
        stats["diverging"] = stats["diverging"].astype(bool)
    idata = az.from_dict(posterior=posterior, sample_stats=stats or None, dims=dims)
    provenance: dict[str, Any] = {
        "problem": problem.name,
        "suite": problem.suite,
        "seed": seed,
        "kind": "mcmc",
        "sampler": sampler,
        "settings": asdict(settings),
        "chains": settings.chains,
        "draws_total": settings.chains * settings.draws,
        "divergences": fit.info.get("divergences"),
        "acceptance_rate": fit.info.get("acceptance_rate"),
        "compile_s": fit.compile_s,
        "run_s": fit.run_s[0],
        "wall_s": wall_s,
        "gates": GATES,
        "diagnostics": diag,
        "failures": failures,
        "verdict": "failed" if failures else "ok",
        "spec_hash": problem.fingerprint(),
        "data_hash": data.fingerprint(),
        "versions": environment.package_versions(),
        "code": environment.code_version(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if check is not None:
        provenance["exact_check"] = check
    if problem.task in ("classification", "regression"):
        predicted, constants, summary = predictive_groups(problem, data, fit.draws, settings.chains)
        idata.add_groups(predictions=predicted, constant_data=constants)
        provenance["predictive"] = summary
    return save(directory, problem, seed, idata, provenance)
