"""Suites group problems; each problem is one module that defines `PROBLEM`."""

from __future__ import annotations

import importlib
from functools import cache

from bench.errors import unknown
from bench.problem import Problem

SUITES: dict[str, tuple[str, ...]] = {
    "toy": ("gamma", "coinflip", "banana", "gaussian2d", "bimodal"),
    "bnn": ("moons", "breast_cancer", "sine"),
}

# Methods a suite runs when --methods is not given.
DEFAULT_METHODS: dict[str, tuple[str, ...]] = {
    "toy": ("numpyro.svi",),
    "bnn": ("numpyro.svi",),
}

_SUITE_OF = {problem: suite for suite, problems in SUITES.items() for problem in problems}


def suite_names() -> list[str]:
    return list(SUITES)


def problem_names(suite: str | None = None) -> list[str]:
    if suite is None:
        return list(_SUITE_OF)
    if suite not in SUITES:
        raise unknown("suite", suite, SUITES)
    return list(SUITES[suite])


@cache
def get_problem(name: str) -> Problem:
    if name not in _SUITE_OF:
        raise unknown("problem", name, _SUITE_OF)
    module = importlib.import_module(f"suites.{_SUITE_OF[name]}.{name}")
    return module.PROBLEM
