"""User selections checked before anything runs or is written: comma lists, filters, output paths.

An empty selection (`--methods ,`) is refused rather than read as "all defaults", a name given
twice is refused rather than planned twice (a duplicate is a typo more often than a wish), and a
filter that names nothing the registry or the store knows is an unknown name, not "no records".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bench.spec.errors import BenchInputError, unknown
from bench.store import distinct_values


def _choices(valid: Callable[[], Iterable[str]] | None) -> str:
    return f"; valid choices: {', '.join(sorted(valid()))}" if valid is not None else ""


def parse_names(text: str, option: str, valid: Callable[[], Iterable[str]] | None = None) -> list[str]:
    """A comma-separated list: "" is the default (empty list); empty names and repeats are errors."""
    if not text.strip():
        return []
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise BenchInputError(
            f"{option} {text!r} names nothing; give comma-separated names or leave it out{_choices(valid)}"
        )
    if not all(names):
        raise BenchInputError(f"{option} {text!r} has an empty name between commas{_choices(valid)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BenchInputError(f"{option} names {', '.join(map(repr, repeated))} more than once; name each once")
    return names


def check_known(kind: str, names: Sequence[str], registered: Iterable[str], stored: Iterable[str]) -> None:
    """Each filter name must be a registered one or one the store holds (a method may carry a
    `:variant`); otherwise it is an unknown name, listed with the valid ones."""
    valid = set(registered) | set(stored)
    for name in names:
        if name not in valid and name.partition(":")[0] not in valid:
            raise unknown(kind, name, valid)


def check_filters(
    store: Path, suite: str | None = None, problems: Sequence[str] = (), methods: Sequence[str] = ()
) -> None:
    """Filters of report, plot and history against the registries and the store's own records."""
    import backends
    import suites

    if suite:
        check_known("suite", [suite], suites.suite_names(), distinct_values(store, "suite"))
    if problems:
        check_known("problem", problems, suites.problem_names(), distinct_values(store, "problem"))
    if methods:
        check_known("method", methods, backends.registry(), distinct_values(store, "method"))


def _nearest_existing(path: Path) -> Path:
    return next((p for p in [path, *path.parents] if p.exists()), Path("."))


def check_out_file(path: Path, option: str = "--out") -> None:
    """A file to write: not an existing folder, and inside a folder that exists or can be made."""
    if path.is_dir():
        raise BenchInputError(f"{option} {path} is an existing folder; give a file path")
    parent = _nearest_existing(path.parent if str(path.parent) else Path("."))
    if not parent.is_dir():
        raise BenchInputError(f"{option} {path}: {parent} is not a folder")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise BenchInputError(f"{option} {path} is not writable")


def check_out_dir(path: Path, option: str = "--out") -> None:
    """A folder to write into: not an existing file, and writable (or creatable)."""
    if path.exists() and not path.is_dir():
        raise BenchInputError(f"{option} {path} is an existing file; give a folder")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise BenchInputError(f"{option} {path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BenchInputError(f"{option} {path} is not writable")


def check_writable_store(path: Path) -> None:
    """`bench run` writes the store, its journal beside it and the caches under its folder: a
    read-only file or folder is refused before anything is planned into it."""
    folder = _nearest_existing(path.parent if str(path.parent) else Path("."))
    if path.exists() and not os.access(path, os.W_OK):
        raise BenchInputError(f"store {path} is read-only; make it writable or pass another --store")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BenchInputError(
            f"store folder {folder} is read-only; SQLite writes its journal there: pass another --store"
        )
