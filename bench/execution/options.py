"""The run options of `bench run`, declared once: name, type, default and help.

The command line's options, the keys a grid file may set, their type checks, the defaults and
what the plan and executors read all come from `RunOptions`' fields, so an option cannot exist in
one place and be missing (or typed differently) in another. A field's `metadata` carries its help
text and, where it is a switch or takes one of a few values, how the command line spells it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.store import paths

DEVICES = ("cpu", "gpu")
EXECUTORS = ("local", "dask")


def option(default: Any, help: str, *, switch: str | None = None, metavar: str | None = None) -> Any:
    """A run option: its default, its help, and how the command line spells it where that is not
    `--name VALUE` (`switch`: "--force" or "--compile-cache/--no-compile-cache")."""
    return field(default=default, metadata={"help": help, "switch": switch, "metavar": metavar})


@dataclass(frozen=True)
class RunOptions:
    """What one `bench run` is run with (the grid itself, suites, methods and settings, is apart)."""

    seeds: int | None = option(None, "number of seeds, 0..N-1 (default 1, or the suite's)")
    device: str = option("cpu", "cpu (default) or gpu", metavar="[cpu|gpu]")
    repeats: int | None = option(None, "warm timed repeats per cell, all stored (default 3, or the suite's)")
    jobs: int = option(1, "cells run at once (default 1); above 1 the cells share the CPU and timings suffer")
    threads: int = option(
        1, "threads per cell for every framework (OpenMP/BLAS, torch, XLA; default 1); threads x jobs <= cores"
    )
    executor: str = option(
        "local",
        "local (default), or dask (a LocalCluster of --jobs processes, or --scheduler's cluster)",
        metavar="[local|dask]",
    )
    scheduler: str | None = option(None, "with --executor dask: a running scheduler, tcp://HOST:PORT")
    timeout: float = option(1800.0, "seconds before a cell is killed and recorded as timeout (default 1800)")
    store: Path = option(paths.DEFAULT_STORE, f"SQLite store (default {paths.DEFAULT_STORE})")
    force: bool = option(False, "re-run cells already finished with the same hash", switch="--force")
    x64: bool = option(False, "float64 everywhere (default float32)", switch="--x64")
    draws: int = option(4000, "draws from q used for scoring (default 4000; k-hat needs 2,000)")
    tag: str | None = option(None, "label stored with the run")
    compile_cache: bool = option(
        True,
        "persistent compile caches (JAX, PyTensor) beside the store, or in $BENCH_COMPILE_CACHE_DIR",
        switch="--compile-cache/--no-compile-cache",
    )
    strict: bool = option(False, "exit 1 if any cell ends in error, timeout, oom or diverged", switch="--strict")
    references: Path | None = option(None, "stored MCMC references (default: references/ beside the store)")
    posteriordb: Path | None = option(
        None,
        "a local posteriordb clone: the posteriordb suite becomes its posteriors with a PyMC model and reference "
        "draws (default: BENCH_POSTERIORDB, else the eight built-in posteriors)",
        metavar="PATH",
    )
    save_draws: bool = option(
        False, "also write each cell's draws as ArviZ netCDF under draws/ beside the store", switch="--save-draws"
    )
    protocol: str | None = option(
        None,
        "how VI settings are chosen: recipe (the seeds'), defaults (each library's) or tuned (a step-size search "
        "at an equal budget); default: the problem's, else the suite's (tuned for posteriordb)",
        metavar="[recipe|defaults|tuned]",
    )

    @property
    def dtype(self) -> str:
        return "float64" if self.x64 else "float32"

    @property
    def references_dir(self) -> Path:
        return Path(self.references) if self.references else Path(self.store).parent / "references"

    @property
    def cache_dir(self) -> Path | None:
        """The persistent compile caches (a folder per framework inside), or None when they are off."""
        return paths.compile_cache_beside(Path(self.store)) if self.compile_cache else None

    @classmethod
    def merged(cls, flags: Mapping[str, Any], *layers: Mapping[str, Any]) -> RunOptions:
        """The options a run uses: a flag given on the command line (not None) wins over each layer
        (a grid file's options, then a suite's), and they over the defaults."""
        values: dict[str, Any] = {}
        for layer in reversed(layers):
            values.update({k: v for k, v in layer.items() if v is not None})
        values.update({k: v for k, v in flags.items() if v is not None})
        for name in ("store", "references", "posteriordb"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return cls(**values)


def fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(RunOptions)


def value_type(name: str) -> type:
    """The type a value of the option has (None aside): what a grid file's value is checked against
    and what the command line parses."""
    hint = typing.get_type_hints(RunOptions)[name]
    kinds = [k for k in typing.get_args(hint) if k is not type(None)] or [hint]
    return kinds[0]


def file_types() -> dict[str, type | tuple[type, ...]]:
    """The keys a grid file may set, with the TOML types each accepts (a path is a string, a
    duration an integer or a float)."""
    toml = {Path: str, float: (int, float)}
    return {f.name: toml.get(value_type(f.name), value_type(f.name)) for f in fields()}
