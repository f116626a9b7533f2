"""The layers stay as the README's "Architecture" section says: `lint-imports` keeps every contract
in pyproject.toml, and the harness layer there names every harness module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("importlinter", reason="import-linter not installed: pip install 'bench[test]'")
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_harness_layers_name_every_harness_package():
    """Every folder of bench/ is a role package with a place in the layers: a new package cannot slip
    out of the contract, and no module lives loose at the top of bench/."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    contract = next(c for c in config if c["type"] == "layers")
    listed = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    on_disk = {f"bench.{p.parent.name}" for p in (ROOT / "bench").glob("*/__init__.py")}
    assert on_disk <= listed, f"add to the harness layers: {sorted(on_disk - listed)}"
    loose = {p.name for p in (ROOT / "bench").glob("*.py")} - {"__init__.py", "__main__.py"}
    assert not loose, f"move into a role package: {sorted(loose)}"
    siblings = next(c for c in config if c["type"] == "acyclic_siblings")["ancestors"]
    assert on_disk <= set(siblings), f"add to the acyclic-siblings contract: {sorted(on_disk - set(siblings))}"


def test_a_backend_importing_the_harness_breaks_the_contract(tmp_path):
    for name in ("bench", "backends", "suites"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "backends" / "testing.py", "a") as f:
        f.write("\nfrom bench.store import Store  # noqa: E402,F401\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "backends.testing -> bench.store" in result.stdout


def test_every_problem_module_its_suite_and_the_suite_table_agree():
    """A problem lives in suites/<suite>/<name>.py, says Problem.suite == <suite>, and is listed in
    SUITES[<suite>]; every suite lists only registered problems."""
    import importlib

    import suites

    on_disk = {
        f"suites.{p.parent.name}.{p.stem}"
        for p in (ROOT / "suites").glob("*/*.py")
        if p.stem != "__init__" and "\nPROBLEM = " in p.read_text()
    }  # helpers (posteriordb's archive) are not problems
    assert set(suites.PROBLEM_MODULES.values()) == on_disk
    for name, module_name in suites.PROBLEM_MODULES.items():
        problem = importlib.import_module(module_name).PROBLEM
        home = module_name.split(".")[1]
        assert (problem.name, problem.suite) == (name, home), module_name
        assert name in suites.SUITES[home], f"{name} is missing from SUITES[{home!r}]"
    for suite, names in suites.SUITES.items():
        if suite == "scale":  # the study's parametric family: names resolved by suites.get_problem
            assert all(suites.in_suite("scale", name) for name in names)
            continue
        assert set(names) <= set(suites.PROBLEM_MODULES), suite
