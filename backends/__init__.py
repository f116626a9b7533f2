"""The method registry: an explicit table of every backend's methods and runtime records.

Each backend package exposes `METHODS` and `RUNTIME` (bench.spec.runtime) from a light `__init__`
(no framework import), so listing and planning stay fast and work even where a backend is not
installed, and the harness learns each framework's environment, threads, GPU probe and compile
cache from the records instead of naming frameworks itself.
"""

from __future__ import annotations

import os
from functools import cache

from bench.spec.errors import unknown
from bench.spec.methods import Method
from bench.spec.runtime import BackendRuntime, Framework

BACKEND_MODULES = ("backends.numpyro", "backends.blackjax", "backends.pymc", "backends.torch")
TEST_METHODS_ENV = "BENCH_TEST_METHODS"  # "1" registers the test-only methods of backends.testing
NO_RUNTIME = BackendRuntime()  # a backend that declares no runtime record: no framework, its fit module preloaded


@cache
def _registry(with_test_methods: bool) -> dict[str, Method]:
    import importlib

    modules = BACKEND_MODULES + (("backends.testing",) if with_test_methods else ())
    table: dict[str, Method] = {}
    for module_name in modules:
        for method in importlib.import_module(module_name).METHODS:
            if method.name in table:
                raise RuntimeError(f"method {method.name} registered twice")
            table[method.name] = method
    return table


def registry() -> dict[str, Method]:
    return _registry(os.environ.get(TEST_METHODS_ENV) == "1")


def get_method(name: str) -> Method:
    table = registry()
    if name not in table:
        raise unknown("method", name, table)
    return table[name]


@cache
def _runtimes(with_test_methods: bool) -> dict[str, BackendRuntime]:
    """Each method's runtime record: its backend module's `RUNTIME`, from the same modules as the registry."""
    import importlib

    modules = BACKEND_MODULES + (("backends.testing",) if with_test_methods else ())
    table: dict[str, BackendRuntime] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for method in module.METHODS:
            table[method.name] = getattr(module, "RUNTIME", NO_RUNTIME)
    return table


def runtime_of(method: str) -> BackendRuntime:
    """The runtime record of the backend a method belongs to."""
    table = _runtimes(os.environ.get(TEST_METHODS_ENV) == "1")
    if method in table:
        return table[method]
    get_method(method)  # an unknown name: the one-line error naming the valid ones
    return NO_RUNTIME


def runtimes() -> list[BackendRuntime]:
    """Every registered backend's runtime record, once each, in registry order."""
    found: dict[int, BackendRuntime] = {}
    for runtime in _runtimes(os.environ.get(TEST_METHODS_ENV) == "1").values():
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
