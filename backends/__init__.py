"""The method registry: an explicit table of every backend's methods.

Each backend package exposes `METHODS` from a light `__init__` (no framework import), so
listing and planning stay fast and work even where a backend is not installed.
"""

from __future__ import annotations

import os
from functools import cache

from bench.spec.errors import unknown
from bench.spec.methods import Method

BACKEND_MODULES = ("backends.numpyro", "backends.blackjax", "backends.pymc", "backends.torch", "backends.flowjax")
TEST_METHODS_ENV = "BENCH_TEST_METHODS"  # "1" registers the test-only methods of backends.testing


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
