"""posteriordb read from a local clone the user points at (as the `posteriordb` package's local mode).

Every posterior of the clone whose model has a PyMC implementation (`pymc`, or `pymc3`, which runs
on PyMC through a small alias of its renamed arguments) and whose reference draws are present
becomes a model problem (bench.spec.models) with the database's own data and draws. Nothing is
copied: the clone is read where it lies. A model that fails to load or build becomes a problem whose
every cell is an error row with the reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

from bench.spec.errors import BenchInputError
from bench.spec.models import ModelProblem, read_json
from suites.posteriordb.archive import RECIPE

DATABASE = "posterior_database"
IMPLEMENTATIONS = ("pymc", "pymc3")


def check(path) -> Path:
    root = Path(path) / DATABASE
    if not (root / "posteriors").is_dir():
        raise BenchInputError(f"--posteriordb {path}: not a posteriordb clone (no {DATABASE}/posteriors folder in it)")
    return root


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _pymc3_alias() -> types.ModuleType:
    """`pymc3` for posteriordb's PyMC3 programs: PyMC with PyMC3's argument names (sd, testval)."""
    import pymc

    alias = types.ModuleType("pymc3")
    renamed = {"sd": "sigma", "testval": "initval"}

    def wrap(cls):
        def make(*args, **kwargs):
            return cls(*args, **{renamed.get(k, k): v for k, v in kwargs.items()})

        return make

    for name in dir(pymc):
        value = getattr(pymc, name)
        is_distribution = isinstance(value, type) and issubclass(value, pymc.Distribution)
        setattr(alias, name, wrap(value) if is_distribution else value)
    return alias


def _load_model(code: Path, implementation: str):
    spec = importlib.util.spec_from_file_location(f"posteriordb_model_{code.stem}", code)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("pymc3")
    if implementation == "pymc3":
        sys.modules["pymc3"] = _pymc3_alias()
    try:
        spec.loader.exec_module(module)
    finally:
        if implementation == "pymc3":
            if saved is None:
                sys.modules.pop("pymc3", None)
            else:
                sys.modules["pymc3"] = saved
    return module.model


def _declare(root: Path, posterior: dict[str, Any]) -> ModelProblem | None:
    """The posterior as a model problem, or None when it lacks a PyMC model or reference draws."""
    reference_name = posterior.get("reference_posterior_name")
    info_path = root / "models" / "info" / f"{posterior['model_name']}.info.json"
    if not reference_name or not info_path.is_file():
        return None
    implementations = json.loads(info_path.read_text()).get("model_implementations", {})
    implementation = next((k for k in IMPLEMENTATIONS if k in implementations), None)
    draws_dir = root / "reference_posteriors" / "draws" / "draws"
    draws = _first(draws_dir / f"{reference_name}.json.zip", draws_dir / f"{reference_name}.json")
    if implementation is None or draws is None:
        return None
    code = root / implementations[implementation]["model_code"]
    data_dir = root / "data" / "data"
    data_path = _first(data_dir / f"{posterior['data_name']}.json.zip", data_dir / f"{posterior['data_name']}.json")
    source = code.read_bytes() if code.is_file() else b""
    data_sha = hashlib.sha256(data_path.read_bytes()).hexdigest() if data_path else "missing"

    def build(_data):
        if data_path is None:
            raise FileNotFoundError(f"no data file for {posterior['data_name']} in {data_dir}")
        return _load_model(code, implementation)(read_json(data_path))

    return ModelProblem(
        name=posterior["name"],
        kind="pymc",
        model=build,
        suite="posteriordb",
        description=f"posteriordb {posterior['name']} ({implementation} model {code.name})",
        reference_draws=draws,
        recipe=RECIPE,
        reference_kind="posteriordb",
        check_translation=True,
        source=f"{implementation}:{hashlib.sha256(source).hexdigest()} data:{data_sha}",
    )


def problems(path) -> dict[str, ModelProblem]:
    """{posterior name: its model problem} for every posterior with a PyMC model and reference draws."""
    root = check(path)
    found: dict[str, ModelProblem] = {}
    for record in sorted((root / "posteriors").glob("*.json")):
        declared = _declare(root, json.loads(record.read_text()))
        if declared is not None:
            found[declared.name] = declared
    return found
