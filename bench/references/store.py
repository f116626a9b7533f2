"""MCMC reference posteriors on disk: ArviZ netCDF draws plus a JSON provenance file.

Layout: `<dir>/<problem>/seed-<k>.nc` and `seed-<k>.json`. The JSON names the sampler, its
settings, the diagnostics and gates, package versions and the hashes of the problem's spec and
data; a reference whose hashes no longer match its problem is stale and is refused, never used.
A reference that failed its gates loads with verdict "failed", and every score against it says so.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.spec.draws import num_draws
from bench.spec.errors import BenchInputError
from bench.spec.problem import Dataset, Problem
from bench.spec.references import Reference
from bench.store import paths

DEFAULT_DIR = paths.RESULTS / "references"


@dataclass(frozen=True)
class StoredReference:
    problem: str
    seed: int
    netcdf: Path
    provenance_path: Path
    provenance: dict[str, Any]

    @property
    def verdict(self) -> str:
        return self.provenance.get("verdict", "failed")

    def stale_reason(self, problem: Problem, data: Dataset) -> str | None:
        """Why this reference no longer describes the problem, or None when it still does."""
        if self.provenance.get("spec_hash") != problem.fingerprint():
            return "the problem's spec changed since it was built"
        if self.provenance.get("data_hash") != data.fingerprint():
            return "the problem's data changed since it was built"
        return None

    @property
    def digest(self) -> str:
        """Identity of this build (its provenance), part of every scored cell's hash."""
        import hashlib

        return hashlib.sha256(self.provenance_path.read_bytes()).hexdigest()


def paths(directory: Path, problem: str, seed: int) -> tuple[Path, Path]:
    base = Path(directory) / problem / f"seed-{seed}"
    return base.with_suffix(".nc"), base.with_suffix(".json")


def find(directory: Path, problem: str, seed: int) -> StoredReference | None:
    netcdf, provenance_path = paths(directory, problem, seed)
    if not provenance_path.exists():
        return None
    try:
        provenance = json.loads(provenance_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchInputError(
            f"reference {provenance_path} is unreadable ({exc}); rebuild it: bench reference build --problems {problem}"
        ) from None
    return StoredReference(problem, seed, netcdf, provenance_path, provenance)


def find_all(directory: Path) -> list[StoredReference]:
    found = []
    for provenance_path in sorted(Path(directory).glob("*/seed-*.json")):
        seed = int(provenance_path.stem.split("-", 1)[1])
        stored = find(directory, provenance_path.parent.name, seed)
        if stored is not None:
            found.append(stored)
    return found


def require_fresh(stored: StoredReference, problem: Problem, data: Dataset) -> None:
    """Scoring refuses a stale reference: a one-line error naming the fix."""
    reason = stored.stale_reason(problem, data)
    if reason is not None:
        raise BenchInputError(
            f"reference for {problem.name} seed {stored.seed} is stale ({reason}); "
            f"rebuild it: bench reference build --problems {problem.name} --seeds {stored.seed + 1}"
        )


def save(directory: Path, problem: Problem, seed: int, idata, provenance: dict[str, Any]) -> StoredReference:
    """Write draws then provenance, each atomically; the JSON is written last, so a reference
    interrupted mid-write is simply absent."""
    netcdf, provenance_path = paths(directory, problem.name, seed)
    netcdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = netcdf.with_suffix(".nc.tmp")
    idata.to_netcdf(str(tmp), engine="h5netcdf")
    tmp.replace(netcdf)
    tmp = provenance_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(provenance, indent=2, sort_keys=True, default=_plain))
    tmp.replace(provenance_path)
    return StoredReference(problem.name, seed, netcdf, provenance_path, provenance)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_idata(stored: StoredReference):
    from bench.spec.arviz_setup import arviz

    az = arviz()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.from_netcdf(str(stored.netcdf), engine="h5netcdf").load()


def load_draws(stored: StoredReference, problem: Problem, idata=None) -> dict[str, np.ndarray]:
    """The stored draws, chain-major: (chains * draws, *shape) per latent."""
    posterior = (idata or load_idata(stored)).posterior
    return {
        lat.name: np.asarray(posterior[lat.name].values, dtype=np.float64).reshape(-1, *lat.shape)
        for lat in problem.latents
    }


def to_reference(stored: StoredReference, problem: Problem) -> Reference:
    """A scoring Reference: moments of the stored draws, resampling of them, the predictive mean on
    the test points for networks, and the verdict as stored."""
    idata = load_idata(stored)
    draws = load_draws(stored, problem, idata)
    total = num_draws(draws)

    def sampler(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        rows = rng.integers(0, total, size=n)
        return {name: values[rows] for name, values in draws.items()}

    predictive_test = None
    if "predictions" in idata.groups() and "test_mean" in idata.predictions:
        predictive_test = np.asarray(idata.predictions["test_mean"].values, dtype=np.float64)
    provenance = {
        k: stored.provenance[k] for k in ("sampler", "chains", "draws_total", "built_at") if k in stored.provenance
    }
    return Reference(
        kind="mcmc",
        mean={name: values.mean(axis=0) for name, values in draws.items()},
        sd={name: values.std(axis=0, ddof=1) for name, values in draws.items()},
        sampler=sampler,
        provenance={**provenance, "failures": stored.provenance.get("failures", []), "digest": stored.digest[:12]},
        verdict=stored.verdict,
        predictive_test=predictive_test,
    )
