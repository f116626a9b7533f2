"""A cell's draws as ArviZ netCDF: chains kept (samplers), sampler statistics as `sample_stats`.

The store keeps up to 2,000 draws per cell (float32, evenly spaced within each chain), so an
exported file opens in ArviZ with its chains and `az.summary` gives R-hat and ESS of what was kept.
VI draws are one chain of independent draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.spec.errors import BenchInputError

if TYPE_CHECKING:
    from bench.records.record import Record


def inference_data(problem, arrays: Mapping[str, object]):
    """InferenceData from a record's arrays (`draws:<name>`, `draws_chains`, `stats:<name>`)."""
    from bench.spec.arviz_setup import arviz

    az = arviz()
    chains = int(np.asarray(arrays["draws_chains"]).reshape(-1)[0]) if "draws_chains" in arrays else 1
    shapes = {lat.name: tuple(lat.shape) for lat in problem.latents}
    posterior, dims = {}, {}
    for key, values in arrays.items():
        if not key.startswith("draws:"):
            continue
        name = key.split(":", 1)[1]
        flat = np.asarray(values, dtype=np.float64)
        shape = shapes.get(name, flat.shape[1:] if flat.shape[1:] != (1,) else ())
        posterior[name] = flat.reshape(chains, -1, *shape)
        dims[name] = [f"{name}_dim_{i}" for i in range(len(shape))]
    if not posterior:
        raise BenchInputError("this record stored no draws (only ok records of methods that return draws do)")
    stats = {
        key.split(":", 1)[1]: np.asarray(v).reshape(chains, -1) for key, v in arrays.items() if key.startswith("stats:")
    }
    if "diverging" in stats:
        stats["diverging"] = stats["diverging"].astype(bool)
    return az.from_dict(posterior=posterior, sample_stats=stats or None, dims=dims)


def safe_name(cell_key: str) -> str:
    """A cell key as a file name: `toy/coinflip|numpyro.nuts|seed=0|cpu|float32` ->
    `toy-coinflip__numpyro.nuts__seed=0__cpu__float32`."""
    return cell_key.replace("/", "-").replace("|", "__").replace(":", "-")


def write(idata, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    idata.to_netcdf(str(tmp))
    tmp.replace(out)
    return out


def export_cell(store: Path, cell_key: str, out: Path) -> Path:
    """`bench draws CELL-KEY --out FILE`: the latest record of the cell, as netCDF."""
    import suites
    from bench.store import cell_keys, latest_record_for_key, load_arrays

    found = latest_record_for_key(store, cell_key)
    if found is None:
        keys = cell_keys(store)
        shown = ", ".join(keys[:8]) + (
            f", ... ({len(keys)} in all: bench report --format summary)" if len(keys) > 8 else ""
        )
        raise BenchInputError(f"unknown cell key {cell_key!r} in {store}; valid choices: {shown or '(none)'}")
    record_id, problem, status = found
    arrays = load_arrays(store, record_id)
    if not any(name.startswith("draws:") for name in arrays):
        raise BenchInputError(f"cell {cell_key} has no stored draws (its latest record is {status})")
    return write(inference_data(suites.get_problem(problem), arrays), out)


def save_record(record: Record, folder: Path) -> Path | None:
    """`--save-draws`: an ok record's draws written beside the store as it arrives."""
    import suites

    if record.status != "ok" or not any(name.startswith("draws:") for name in record.arrays):
        return None
    problem = suites.get_problem(record.cell.problem)
    return write(inference_data(problem, record.arrays), folder / f"{safe_name(record.key)}.nc")
