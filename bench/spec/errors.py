"""Errors the harness raises on purpose, each mapped to a clear outcome."""

from __future__ import annotations

from collections.abc import Iterable


class BenchInputError(ValueError):
    """Bad user input: the CLI prints the one-line message and exits with code 2."""


class Unsupported(RuntimeError):
    """A method cannot run a problem (or a device): the cell becomes an `unsupported` row."""


def unknown(kind: str, name: str, valid: Iterable[str]) -> BenchInputError:
    """The standard 'unknown X' error that lists every valid choice."""
    choices = ", ".join(sorted(valid)) or "(none)"
    return BenchInputError(f"unknown {kind} {name!r}; valid choices: {choices}")
