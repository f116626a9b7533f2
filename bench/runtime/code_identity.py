"""The code a cell depends on, as one hash: its problem's definition, its backend's modules and the
harness's scoring and timing code, each followed through its imports.

A cell's content hash includes this, not the project's commit or its whole diff, so a README
edit, a commit elsewhere or a new problem leaves existing cells reusable, while an edit to the
cell's backend (or to what it imports) re-runs it. Library versions are hashed beside it
(bench.execution.plan).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# What scores and times every cell: the contract (log joints, draws), scoring, the worker, its
# phase clock, thread settings, compile-cache verdicts and stored-reference loading.
HARNESS = (
    "bench.spec",
    "bench.scoring",
    "bench.execution.worker",
    "bench.execution.phases",
    "bench.runtime.threads",
    "bench.runtime.compile_cache",
    "bench.references.store",
)
REGISTRIES = ("backends", "suites")  # the registries' own __init__: a new entry must not change other cells


@cache
def _files(module: str) -> tuple[Path, ...]:
    """The source files of a module (a package: every .py under it); () where it has none."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ()
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ()
    if spec.submodule_search_locations and module in HARNESS:
        return tuple(sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py")))
    return (Path(spec.origin),)


def _imports(path: Path, package: str) -> set[str]:
    """Modules named by the file's import statements (relative ones resolved), with each name of a
    `from X import name` also tried as a submodule X.name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(filter(None, [*parts, base]))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@cache
def closure(start: str) -> tuple[str, ...]:
    """`start` and every module it imports, transitively, within its own top-level package and the
    project's backends and suites (bench itself is the harness, hashed apart; libraries by version)."""
    follow = {start.split(".")[0], *REGISTRIES}
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen or module.split(".")[0] not in follow:
            continue
        seen.add(module)
        for path in _files(module):
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            todo.extend(_imports(path, package))
    return tuple(sorted(m for m in seen if m not in REGISTRIES and _files(m)))


def fingerprint(modules: Iterable[str]) -> str:
    """sha256 over (module, file, content) of the modules' closures."""
    digest = hashlib.sha256()
    for module in sorted({m for start in modules for m in closure(start)}):
        for path in _files(module):
            digest.update(f"{module}:{path.name}:".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def harness_fingerprint() -> str:
    digest = hashlib.sha256()
    for module in HARNESS:
        for path in _files(module):
            digest.update(f"{module}:{path.name}:".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def method_modules(fit: str) -> tuple[str, ...]:
    """A method's code: the module of its fit function and the packages above it (its record)."""
    module = fit.split(":")[0]
    parts = module.split(".")
    return tuple(".".join(parts[:i]) for i in range(2, len(parts) + 1)) or (module,)
