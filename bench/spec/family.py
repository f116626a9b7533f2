"""A parametric family of problems: one problem per data size N and hidden widths, named by them.

The scale study (bench.studies.scale) plans its grid over such a family without knowing how the
problems are built; the suite that declares the family (suites.scale) hands it over through the
suites registry as this record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.spec.problem import Problem

Widths = tuple[int, ...]  # hidden widths, one per layer


@dataclass(frozen=True)
class ProblemFamily:
    sizes: tuple[int, ...]  # the data sizes N a full study runs
    widths: tuple[int, ...]  # the hidden widths a full study runs (one layer each)
    steps: int  # VI steps per cell unless a study chooses fewer
    name: Callable[[int, int | Widths], str]  # (N, widths) -> the problem's one name
    parse: Callable[[str], tuple[int, Widths] | None]  # a name -> (N, widths); None for any other name
    size_token: Callable[[int], str]  # N as the names spell it (1000 -> "1e3")
    make_problem: Callable[[str], Problem]

    def grid(self, sizes: Sequence[int] | None = None, widths: Sequence[int] | None = None) -> list[str]:
        """The names of every (width, size) pair, widths outermost."""
        sizes = self.sizes if sizes is None else sizes
        widths = self.widths if widths is None else widths
        return [self.name(n, w) for w in widths for n in sizes]
