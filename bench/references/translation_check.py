"""Our translation of a problem against someone else's draws: NUTS means and sds within 5 MCSE.

For a problem whose reference is external draws (posteriordb's Stan NUTS), a harness NUTS sampler
(numpyro.nuts or blackjax.nuts, float64) runs on our translation; every scored component's mean and
sd must lie within MCSE_TOLERANCE combined Monte Carlo standard errors of the reference's
(inference-gym's check). The standard error combines ArviZ's MCSE of both estimates,
sqrt(mcse_ours^2 + mcse_ref^2), so the check stays honest at fewer draws than the reference's.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from bench.references.build import MCSE_TOLERANCE, SAMPLERS, BuildSettings, diagnostics, in_float64
from bench.spec.draws import flatten
from bench.spec.errors import unknown
from bench.spec.problem import Problem


def reference_diagnostics(problem: Problem, reference) -> dict[str, Any]:
    """ArviZ's diagnostics (MCSE included) of the reference's own draws, chain by chain."""
    chains = int(reference.provenance["chains"])
    total = int(reference.provenance["draws_total"])
    draws = reference.draws(np.random.default_rng(0), total)  # all of them, chain-major
    names, matrix = flatten(draws, problem.scored_shapes())
    return diagnostics(names, matrix, chains)


def compare(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """Per component z-scores of the mean and sd differences; the worst; pass or fail."""
    rows = {}
    for name, c in ours["components"].items():
        r = ref["components"][name]
        se_mean = np.hypot(c["mcse_mean"], r["mcse_mean"])
        se_sd = np.hypot(c["mcse_sd"], r["mcse_sd"])
        rows[name] = {
            "mean": c["mean"],
            "ref_mean": r["mean"],
            "sd": c["sd"],
            "ref_sd": r["sd"],
            "z_mean": abs(c["mean"] - r["mean"]) / se_mean,
            "z_sd": abs(c["sd"] - r["sd"]) / se_sd,
        }
    worst_name = max(rows, key=lambda n: max(rows[n]["z_mean"], rows[n]["z_sd"]))
    worst = rows[worst_name]
    which = "mean" if worst["z_mean"] >= worst["z_sd"] else "sd"
    z = worst[f"z_{which}"]
    failures = [
        f"{n} {k} off by {rows[n][f'z_{k}']:.2f} MCSE ({rows[n][k]:.5g} vs {rows[n][f'ref_{k}']:.5g})"
        for n in rows
        for k in ("mean", "sd")
        if rows[n][f"z_{k}"] > MCSE_TOLERANCE
    ]
    return {
        "worst_component": worst_name,
        "worst_statistic": which,
        "worst_mcse_multiple": float(z),
        "passed": not failures,
        "failures": failures,
        "components": rows,
    }


def check(problem: Problem, sampler: str, settings: BuildSettings, seed: int = 0) -> dict[str, Any]:
    """Run `sampler` on our translation and compare with the problem's external reference draws."""
    if sampler not in SAMPLERS:
        raise unknown("reference sampler", sampler, SAMPLERS)
    from backends import get_method
    from bench.spec.fitting import FitContext

    data = problem.make_data(seed)
    reference = problem.reference(data)
    context = FitContext(seed=seed, device="cpu", dtype="float64", repeats=1, draws=0)
    start = perf_counter()
    with in_float64(sampler):
        method = get_method(sampler)
        fit = method.load_fit()(problem, data, method.make_settings(asdict(settings)), context)
    wall_s = perf_counter() - start
    names, matrix = flatten(problem.with_derived(fit.draws), problem.scored_shapes())
    ours = diagnostics(names, matrix, settings.chains)
    result = compare(ours, reference_diagnostics(problem, reference))
    result.update(
        problem=problem.name,
        sampler=sampler,
        settings=asdict(settings),
        wall_s=wall_s,
        divergences=fit.info.get("divergences"),
        r_hat_max=ours["r_hat_max"],
        ess_bulk_min=ours["ess_bulk_min"],
    )
    return result


def has_external_draws(problem: Problem) -> bool:
    """Whether the problem's reference is stored draws from elsewhere (posteriordb, a model problem's
    draws file), not our own."""
    if problem.reference is None:
        return False
    return problem.reference(problem.make_data(0)).kind in ("posteriordb", "draws")


GATE_SETTINGS = BuildSettings(chains=4, warmup=500, draws=500)  # the check is in MCSE units: honest at fewer draws
GATE_SAMPLER = "numpyro.nuts"


def gate(problem: Problem, directory: Path | None) -> str | None:
    """Before any cell of a problem that asks for it (a posteriordb clone's): our NUTS on the model's
    translation against the reference draws. None when it passes, else the one-line reason every cell
    records. The verdict is kept under `directory`/translation, keyed by the problem's hash."""
    import json

    name = f"{problem.name}-{problem.fingerprint()[:16]}.json"
    path = None if directory is None else Path(directory) / "translation" / name
    if path is not None and path.exists():
        verdict = json.loads(path.read_text())
    else:
        try:
            result = check(problem, GATE_SAMPLER, GATE_SETTINGS)
            verdict = {key: result[key] for key in ("passed", "failures", "worst_mcse_multiple", "settings")}
        except Exception as exc:  # the sampler itself failed on the translation: that is the verdict
            verdict = {"passed": False, "failures": [f"{GATE_SAMPLER} failed: {type(exc).__name__}: {exc}"]}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(verdict, indent=1, default=float))
    if verdict["passed"]:
        return None
    failures = verdict["failures"]
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"translation check against the reference draws failed: {failures[0]}{more}"
