"""A backend's runtime record (bench.spec.runtime) is all the harness knows of its framework: what a
record declares reaches the worker, and the harness's execution and runtime packages name no framework."""

import ast
from pathlib import Path

import pytest

import backends
from bench.execution import zygote
from bench.execution.executors import run_in_subprocess
from bench.records.cells import Cell
from bench.spec.runtime import BackendRuntime
from tests.conftest import ROOT


def test_every_method_has_its_backends_runtime_record():
    for name in backends.registry():
        runtime = backends.runtime_of(name)
        assert isinstance(runtime, BackendRuntime) and runtime is not backends.NO_RUNTIME, name
    jax = backends.runtime_of("numpyro.svi").framework
    assert backends.runtime_of("blackjax.nuts").framework is jax  # one framework record, shared
    assert backends.frameworks()["jax"] is jax
    assert backends.runtime_of("blackjax.nuts").preload_for("backends.blackjax.mcmc") == (
        "backends.jax_common.target",
        "optax",
    )
    assert backends.runtime_of("numpyro.svi").preload_for("backends.numpyro.svi") == ("backends.numpyro.svi",)


@pytest.mark.parametrize("forked", [True, False], ids=["zygote", "spawned"])
def test_a_backend_declared_only_through_its_record_gets_its_variables_and_preload(forked, monkeypatch):
    """backends.testing's record declares a framework whose worker variable encodes the setup, and a
    preload beyond its fit module: a real worker sees the variable either way, and the module only
    when it was forked from a zygote that preloaded it (a spawned worker never imports it)."""
    from backends.testing import PRELOAD_MARK

    if not forked:
        monkeypatch.setenv(zygote.DISABLE_ENV, "1")
    cell = Cell(
        "toy",
        "coinflip",
        "testing.runtime",
        "",
        0,
        "cpu",
        "float64",
        1,
        50,
        {"steps": 3, "sleep_s": 0.0},
        hash="runtime",
    )
    pool = zygote.Zygotes()
    try:
        record = run_in_subprocess(cell, 300, threads=1, slot=2, zygotes=pool)
    finally:
        pool.close()
    assert record.status == "ok", record.reason
    assert record.info["runtime_env"] == "cpu/float64/threads=1/slot=2"
    assert record.info["preloaded"] is forked, f"{PRELOAD_MARK} preloaded: {record.info['preloaded']}"


def _framework_names() -> set[str]:
    names: set[str] = set(backends.frameworks()) - {"testing", "none"}
    for runtime in backends.runtimes():
        names |= {p.replace("-", "_") for p in (*runtime.framework.packages, *runtime.packages)}
    return names


def _code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Imported module names and string constants, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_the_harness_runtime_and_execution_name_no_framework():
    """No import of a framework, and no string that is a framework's module name (a `sys.modules`
    lookup, a preload list) in bench.runtime or bench.execution: that knowledge is the records'."""
    frameworks = _framework_names()
    assert {"jax", "torch", "pytensor"} <= frameworks
    offending = []
    for path in sorted([*Path(ROOT, "bench", "runtime").glob("*.py"), *Path(ROOT, "bench", "execution").glob("*.py")]):
        for line, text in _code_strings(ast.parse(path.read_text())):
            if any(text == name or text.startswith((f"{name}.", f"backends.{name}")) for name in frameworks):
                offending.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert offending == []
