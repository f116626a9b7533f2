"""The method registry: an explicit table of every backend's methods and runtime records, built
in or from plugins.

Each backend package exposes `METHODS` and `RUNTIME` (bench.spec.runtime) from a light `__init__`
(no framework import), so listing and planning stay fast and work even where a backend is not
installed, and the harness learns each framework's environment, threads, GPU probe and compile
cache from the records instead of naming frameworks itself. Installed distributions add backends
through the `bench.backends` entry-point group (bench.spec.plugins, docs/plugins.md); a plugin
whose method or backend name is built in is refused with one warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from types import ModuleType

from bench.spec.errors import unknown
from bench.spec.methods import Method
from bench.spec.runtime import BackendRuntime, Framework
from bench.spec.plugins import BACKEND_GROUP, BUILT_IN, builtin_modules, entry_point_modules, warn

__all__ = [
    "BACKEND_MODULES",
    "NO_RUNTIME",
    "TEST_METHODS_ENV",
    "backend_modules",
    "frameworks",
    "get_method",
    "origins",
    "registry",
    "runtime_of",
    "runtimes",
]

BACKEND_MODULES = ("backends.numpyro", "backends.blackjax", "backends.pymc", "backends.torch", "backends.flowjax")
TEST_METHODS_ENV = "BENCH_TEST_METHODS"  # "1" registers the test-only methods of backends.testing
NO_RUNTIME = BackendRuntime()  # a backend that declares no runtime record: no framework, its fit module preloaded


def _with_test_methods() -> bool:
    return os.environ.get(TEST_METHODS_ENV) == "1"


def backend_modules(with_test_methods: bool | None = None) -> Iterator[tuple[str, ModuleType]]:
    """(origin, module) of every backend: the built-in packages ("built in"), then each plugin's
    module ("distribution version"). A backend module exposes METHODS and may expose RUNTIME."""
    test = _with_test_methods() if with_test_methods is None else with_test_methods
    yield from builtin_modules(BACKEND_MODULES + (("backends.testing",) if test else ()))
    yield from entry_point_modules(BACKEND_GROUP)


def _plugin_refusal(module: ModuleType, origin: str, table: dict[str, Method], builtin: set[str]) -> str | None:
    """Why a plugin backend is refused (None: accepted): no METHODS, or a name that is already taken."""
    methods = getattr(module, "METHODS", None)
    if not isinstance(methods, (tuple, list)) or not all(isinstance(m, Method) for m in methods):
        return (
            f"plugin backend {module.__name__} ({origin}) refused: it must expose METHODS, a tuple of "
            "bench.spec.methods.Method"
        )
    for method in methods:
        if method.backend in builtin:
            return f"plugin backend {module.__name__} ({origin}) refused: backend name {method.backend!r} is built in"
        if method.name in table:
            return f"plugin backend {module.__name__} ({origin}) refused: method {method.name!r} is already registered"
    return None


@cache
def _registry(with_test_methods: bool) -> tuple[dict[str, Method], dict[str, str]]:
    table: dict[str, Method] = {}
    origin_of: dict[str, str] = {}
    builtin: set[str] = set()
    for origin, module in backend_modules(with_test_methods):
        if origin != BUILT_IN:
            refusal = _plugin_refusal(module, origin, table, builtin)
            if refusal:
                warn(refusal)
                continue
        for method in module.METHODS:
            if method.name in table:
                raise RuntimeError(f"method {method.name} registered twice")
            table[method.name] = method
            origin_of[method.name] = origin
            if origin == BUILT_IN:
                builtin.add(method.backend)
    return table, origin_of


def registry() -> dict[str, Method]:
    return _registry(_with_test_methods())[0]


def origins() -> dict[str, str]:
    """{method name: "built in" or the plugin's "distribution version"}."""
    return _registry(_with_test_methods())[1]


def get_method(name: str) -> Method:
    table = registry()
    if name not in table:
        raise unknown("method", name, table)
    return table[name]


@cache
def _runtimes(with_test_methods: bool) -> dict[str, BackendRuntime]:
    """Each method's runtime record: its backend module's `RUNTIME`, from the same modules as the registry."""
    accepted = _registry(with_test_methods)[0]
    table: dict[str, BackendRuntime] = {}
    for _origin, module in backend_modules(with_test_methods):
        for method in getattr(module, "METHODS", ()):
            if accepted.get(method.name) is method:  # a refused plugin's methods have no runtime here
                table[method.name] = getattr(module, "RUNTIME", NO_RUNTIME)
    return table


def runtime_of(method: str) -> BackendRuntime:
    """The runtime record of the backend a method belongs to."""
    table = _runtimes(_with_test_methods())
    if method in table:
        return table[method]
    get_method(method)  # an unknown name: the one-line error naming the valid ones
    return NO_RUNTIME


def runtimes() -> list[BackendRuntime]:
    """Every registered backend's runtime record, once each, in registry order."""
    found: dict[int, BackendRuntime] = {}
    for runtime in _runtimes(_with_test_methods()).values():
        found.setdefault(id(runtime), runtime)
    return list(found.values())


def frameworks() -> dict[str, Framework]:
    """The frameworks the registered backends run on, by name, once each (NumPyro and BlackJAX share JAX)."""
    found: dict[str, Framework] = {}
    for runtime in runtimes():
        framework = found.setdefault(runtime.framework.name, runtime.framework)
        if framework is not runtime.framework:
            raise RuntimeError(f"framework {framework.name} declared twice: backends on it share one record")
    return found
