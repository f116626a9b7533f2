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
def _locate(module: str) -> tuple[Path | None, tuple[str, ...]]:
    """A module's source file and, for a package, its folders, found on disk without importing
    anything: `importlib.util.find_spec("a.b.c")` imports `a.b`, so hashing a JAX backend's
    closure would import JAX into the driver (seconds per run)."""
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None, ()
    if spec is None:
        return None, ()
    origin = Path(spec.origin) if spec.origin else None
    folders = tuple(spec.submodule_search_locations or ())
    for part in rest.split(".") if rest else ():
        for folder in folders:
            package, plain = Path(folder, part, "__init__.py"), Path(folder, f"{part}.py")
            if package.is_file():
                origin, folders = package, (str(package.parent),)
                break
            if plain.is_file():
                origin, folders = plain, ()
                break
        else:
            return None, ()
    return origin, folders


@cache
def _files(module: str) -> tuple[Path, ...]:
    """The source files of a module (a package: every .py under it); () where it has none."""
    origin, folders = _locate(module)
    if origin is None or origin.suffix != ".py":
        return ()
    if folders and module in HARNESS:
        return tuple(sorted(p for d in folders for p in Path(d).rglob("*.py")))
    return (origin,)


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
