"""A grid declared in a TOML file (`bench run --config grid.toml`), so a paper's grid can be re-run.

The file holds run options at the top level and one `[[grid]]` table per block of the grid (a
suite, or some of its problems, with methods and their settings). Command-line flags override
the file's run options. Unknown keys and wrong types are bad input: one line, exit 2.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.execution import options
from bench.spec.errors import BenchInputError
from bench.spec.protocols import PROTOCOLS

# Keys of one [[grid]] block.
BLOCK_KEYS: dict[str, type | tuple[type, ...]] = {
    "suite": str,
    "problems": list,
    "methods": list,
    "set": dict,
    "seeds": int,
    "protocol": str,
}


@dataclass(frozen=True)
class GridBlock:
    suite: str
    problems: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    overrides: Mapping[str, str] = field(default_factory=dict)  # `--set` pairs for this block's methods
    seeds: int | None = None
    protocol: str | None = None  # this block's protocol (bench.spec.protocols); None: the run's, or the defaults


@dataclass(frozen=True)
class GridConfig:
    path: Path
    options: Mapping[str, Any]  # run options from the file (flags given on the command line win)
    blocks: tuple[GridBlock, ...]


def _check_type(where: str, key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:  # TOML true is not a count
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise BenchInputError(f"{where}: {key} must be {names}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BenchInputError(f"{where}: {key} must be finite, got {value!r}")


def _check_keys(where: str, table: Mapping[str, Any], allowed: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise BenchInputError(f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(allowed))}")
        _check_type(where, key, value, allowed[key])


def _names(where: str, key: str, items: list) -> tuple[str, ...]:
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise BenchInputError(f"{where}: {key} must be a list of non-empty names, got {items!r}")
    return tuple(item.strip() for item in items)


def _setting_text(value: Any) -> str:
    """A TOML value as the text `--set name=value` would carry (settings are typed by the method)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise BenchInputError(f"setting values must be numbers, booleans or strings, got {value!r}")


def load(path: Path) -> GridConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BenchInputError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchInputError(f"--config {path}: cannot read it ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchInputError(f"--config {path}: not valid TOML ({exc})") from None
    blocks_raw = raw.pop("grid", None)
    _check_keys(str(path), raw, options.file_types())
    if blocks_raw is None:
        raise BenchInputError(f"{path}: no [[grid]] block; declare at least one with a suite")
    if not isinstance(blocks_raw, list) or not all(isinstance(b, dict) for b in blocks_raw):
        raise BenchInputError(f"{path}: grid must be an array of tables ([[grid]]), got {blocks_raw!r}")
    blocks = []
    for number, block in enumerate(blocks_raw, start=1):
        where = f"{path} [[grid]] #{number}"
        _check_keys(where, block, BLOCK_KEYS)
        if "suite" not in block:
            raise BenchInputError(f"{where}: needs a suite")
        overrides = {str(k): _setting_text(v) for k, v in block.get("set", {}).items()}
        blocks.append(
            GridBlock(
                suite=block["suite"],
                problems=_names(where, "problems", block.get("problems", [])),
                methods=_names(where, "methods", block.get("methods", [])),
                overrides=overrides,
                seeds=block.get("seeds"),
                protocol=_protocol(where, block.get("protocol")),
            )
        )
    _protocol(str(path), raw.get("protocol"))
    return GridConfig(path=path, options=raw, blocks=tuple(blocks))


def _protocol(where: str, name: str | None) -> str | None:
    if name is not None and name not in PROTOCOLS:
        raise BenchInputError(f"{where}: unknown protocol {name!r}; valid choices: {', '.join(PROTOCOLS)}")
    return name
