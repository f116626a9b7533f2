"""posteriordb's own archives, shipped verbatim in `data/`, read at run time with zipfile (no network).

Each posterior folder holds posteriordb's zip archives of its data and reference draws (byte for
byte: `data/MANIFEST.json` lists their sha256 and the checksums of the JSON inside, which match
posteriordb's), the reference's info file (sampler settings, diagnostics, checks) and the posterior
record; not the Stan program (each translation's docstring names its posterior, which is the
reference). posteriordb is BSD-3 licensed: `data/LICENCE.md` keeps the notice.

The reference is the draws themselves (10 chains x 1,000 thinned Stan NUTS draws): the moments
and W1 are computed from them, on the quantities posteriordb stores, named as in Stan (1-based).
"""

from __future__ import annotations

import json
import re
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.spec.problem import Recipe
from bench.spec.references import Reference

DATA_DIR = Path(__file__).parent / "data"
COMMIT = "28f8d3d6e975315f42aa274a8399f21e07a43b30"
SOURCE = "https://github.com/stan-dev/posteriordb"
LICENCE = (
    "BSD-3-Clause, Copyright (c) 2011-2024, Stan Developers and their Assignees (suites/posteriordb/data/LICENCE.md)"
)
CITATION = "Magnusson, Bürkner, Vehtari: posteriordb: a set of posteriors for Bayesian inference and probabilistic programming (v0.5, 2023)"

# The one place the suite's VI budget is stated: every VI method of every backend starts from it
# (Adam, constant learning rate, a few particles to steady the gradient on these small models).
RECIPE = Recipe(steps=10_000, learning_rate=0.01, particles=4)

_NAME = re.compile(r"^(\w+)(?:\[(\d+(?:,\d+)*)\])?$")


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        (member,) = archive.namelist()
        return json.loads(archive.read(member))


def load_data(posterior: str) -> dict[str, Any]:
    """The posterior's data (posteriordb's data zip), as parsed JSON."""
    return _read_zip(DATA_DIR / posterior / "data.json.zip")


def _json(posterior: str, name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / posterior / name).read_text())


@cache
def load_draws(posterior: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(Stan column names, draws as chains x draws x columns) of the reference posterior."""
    chains = _read_zip(DATA_DIR / posterior / "reference_draws.json.zip")
    names = tuple(chains[0])
    array = np.stack([np.column_stack([np.asarray(chain[n], dtype=np.float64) for n in names]) for chain in chains])
    return names, array


def stan_index(column: str) -> tuple[str, tuple[int, ...]]:
    """'beta[3]' -> ('beta', (2,)): Stan's 1-based names to the 0-based index of our arrays."""
    match = _NAME.match(column)
    if match is None:
        raise ValueError(f"not a Stan parameter name: {column!r}")
    index = () if match.group(2) is None else tuple(int(i) - 1 for i in match.group(2).split(","))
    return match.group(1), index


def by_name(columns: tuple[str, ...], matrix: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Columns (rows x Stan columns) regrouped into {name: rows x shape} arrays."""
    out = {name: np.full((len(matrix), *shape), np.nan) for name, shape in shapes.items()}
    for j, column in enumerate(columns):
        name, index = stan_index(column)
        if name in out:
            out[name][(slice(None), *index)] = matrix[:, j]
    missing = [n for n, v in out.items() if np.isnan(v).any()]
    if missing:
        raise ValueError(f"posteriordb draws lack components of {missing}")
    return out


def _diagnostics(info: dict[str, Any]) -> dict[str, Any]:
    """The reference's diagnostics by Stan name (the info file orders them differently from the draws)."""
    diag = info["diagnostics"]
    names = diag["diagnostic_information"]["names"]
    per_name = {
        key: dict(zip(names, diag[key]))
        for key in ("r_hat", "effective_sample_size_bulk", "effective_sample_size_tail", "mean_lag1_ac")
    }
    return {
        "r_hat_max": max(diag["r_hat"]),
        "ess_bulk_min": min(diag["effective_sample_size_bulk"]),
        "ess_tail_min": min(diag["effective_sample_size_tail"]),
        "divergences": int(sum(diag["divergent_transitions"])),
        "ebfmi_min": min(diag["expected_fraction_of_missing_information"]),
        "per_component": per_name,
    }


def mcse(posterior: str) -> dict[str, dict[str, float]]:
    """ArviZ's MCSE of the mean and the sd of every stored column, from the reference draws."""
    import warnings

    from bench.spec.arviz_setup import arviz

    az = arviz()
    columns, draws = load_draws(posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            c: {
                "mcse_mean": float(np.asarray(az.mcse(draws[:, :, j], method="mean")).reshape(-1)[0]),
                "mcse_sd": float(np.asarray(az.mcse(draws[:, :, j], method="sd")).reshape(-1)[0]),
            }
            for j, c in enumerate(columns)
        }


@cache
def reference(posterior: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> Reference:
    """The reference record: moments from the draws, the draws themselves as the sampler, provenance."""
    shapes_map = dict(shapes)
    columns, draws = load_draws(posterior)
    chains, per_chain, _ = draws.shape
    flat = draws.reshape(chains * per_chain, -1)
    values = by_name(columns, flat, shapes_map)
    mean = {k: v.mean(axis=0) for k, v in values.items()}
    sd = {k: v.std(axis=0, ddof=1) for k, v in values.items()}
    total = len(flat)

    def sampler(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """The stored draws themselves (all of them when n reaches their number, else a subset)."""
        rows = np.arange(total) if n >= total else np.sort(rng.choice(total, size=n, replace=False))
        return {k: v[rows] for k, v in values.items()}

    info = _json(posterior, "reference_info.json")
    provenance = {
        "method": "posteriordb reference posterior: Stan NUTS draws",
        "posterior": posterior,
        "source": SOURCE,
        "commit": COMMIT,
        "licence": LICENCE,
        "citation": CITATION,
        "sampler": info["inference"]["method"],
        "sampler_settings": info["inference"]["method_arguments"],
        "versions": {k: v for k, v in info.get("versions", {}).items() if k in ("rstan_version", "r_version")},
        "diagnostics": _diagnostics(info),
        "checks_made": info.get("checks_made", {}),
        "chains": chains,
        "draws_total": total,
        "columns": list(columns),
    }
    return Reference("posteriordb", mean, sd, sampler, provenance)


def column(data: dict[str, Any], key: str) -> np.ndarray:
    return np.asarray(data[key], dtype=np.float64)
