"""Plugins: backends and problems from installed distributions, found by entry point.

A distribution registers a module under the entry-point group `bench.backends` (the module exposes
`METHODS`, and may expose `RUNTIME`, as a built-in backend package does) or `bench.suites` (the
module exposes `PROBLEMS` and optionally `SUITES` and `DEFAULT_METHODS`; docs/plugins.md). A plugin
that fails to import is one warning line naming it and the error; the rest of bench works.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterator
from types import ModuleType

BUILT_IN = "built in"
BACKEND_GROUP = "bench.backends"
SUITE_GROUP = "bench.suites"
_warned: set[str] = set()


def warn(message: str) -> None:
    """One line on stderr, once per process (the registries are read many times)."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr)


def origin_of(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist is not None else f"entry point {entry_point.value}"


def entry_point_modules(group: str) -> Iterator[tuple[str, ModuleType]]:
    """(origin, module) of every plugin registered under `group`: origin is "distribution version"."""
    for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value)):
        origin = origin_of(entry_point)
        try:
            module = entry_point.load()
        except Exception as exc:  # a broken plugin must not break bench: one line, and on
            warn(f"plugin {entry_point.name!r} ({origin}, {group}) failed to import: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(module, ModuleType):
            warn(f"plugin {entry_point.name!r} ({origin}, {group}) names {entry_point.value}, which is not a module")
            continue
        yield origin, module


def builtin_modules(names: tuple[str, ...]) -> Iterator[tuple[str, ModuleType]]:
    for name in names:
        yield BUILT_IN, importlib.import_module(name)
