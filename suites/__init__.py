"""Suites group problems; each problem is one module that defines `PROBLEM`."""

from __future__ import annotations

import importlib
from functools import cache

from bench.spec.errors import unknown
from bench.spec.problem import Problem

# Where each problem is declared (its home suite's package).
PROBLEM_MODULES: dict[str, str] = {
    "gamma": "suites.toy.gamma",
    "coinflip": "suites.toy.coinflip",
    "banana": "suites.toy.banana",
    "gaussian2d": "suites.toy.gaussian2d",
    "bimodal": "suites.toy.bimodal",
    "moons": "suites.bnn.moons",
    "breast_cancer": "suites.bnn.breast_cancer",
    "sine": "suites.bnn.sine",
    "eight_schools_noncentered": "suites.posteriordb.eight_schools_noncentered",
    "arK": "suites.posteriordb.arK",
    "diamonds": "suites.posteriordb.diamonds",
    "kidiq_interaction": "suites.posteriordb.kidiq_interaction",
    "earnings_interaction_z": "suites.posteriordb.earnings_interaction_z",
    "mesquite_logvas": "suites.posteriordb.mesquite_logvas",
    "sblrc_blr": "suites.posteriordb.sblrc_blr",
    "nes2000": "suites.posteriordb.nes2000",
}

SUITES: dict[str, tuple[str, ...]] = {
    "toy": ("gamma", "coinflip", "banana", "gaussian2d", "bimodal"),
    "bnn": ("moons", "breast_cancer", "sine"),
    "posteriordb": ("eight_schools_noncentered", "arK", "diamonds", "kidiq_interaction", "earnings_interaction_z",
                    "mesquite_logvas", "sblrc_blr", "nes2000"),
    # A fixed, small grid for nightly performance tracking (under 10 minutes on 2 cores).
    "nightly": ("coinflip", "gaussian2d", "moons", "sine"),
    # The CPU x GPU study (`bench scale`): parametric names, any size and width (suites.scale).
    "scale": tuple(importlib.import_module("suites.scale").grid()),
}

# Methods a suite runs when --methods is not given.
DEFAULT_METHODS: dict[str, tuple[str, ...]] = {
    "toy": ("numpyro.svi",),
    "bnn": ("numpyro.svi",),
    # every VI method of every backend, each against Stan's reference draws
    "posteriordb": ("numpyro.svi:auto_normal", "numpyro.svi:auto_mvn", "numpyro.svi:auto_iaf", "numpyro.svi:auto_bnaf",
                    "pymc.advi", "pymc.fullrank_advi", "torch.vi", "blackjax.meanfield_vi", "blackjax.fullrank_vi",
                    "blackjax.pathfinder", "flowjax.flow_vi"),
    "nightly": ("numpyro.svi:auto_normal",),
    "scale": ("numpyro.svi:auto_normal", "blackjax.meanfield_vi", "torch.vi"),
}

# Run options a suite sets when the command line does not: enough samples for the regression gate.
RUN_DEFAULTS: dict[str, dict[str, int]] = {
    "nightly": {"repeats": 5, "seeds": 2},
}


def suite_names() -> list[str]:
    return list(SUITES)


def problem_names(suite: str | None = None) -> list[str]:
    if suite is None:
        return list(PROBLEM_MODULES)
    if suite not in SUITES:
        raise unknown("suite", suite, SUITES)
    return list(SUITES[suite])


def in_suite(suite: str, name: str) -> bool:
    """Whether a problem belongs to a suite; the scale suite holds every parametric scale name."""
    return name in problem_names(suite) or (suite == "scale" and scale_study().parse(name) is not None)


@cache
def get_problem(name: str) -> Problem:
    if name in PROBLEM_MODULES:
        return importlib.import_module(PROBLEM_MODULES[name]).PROBLEM
    if scale_study().parse(name) is not None:
        return scale_study().make_problem(name)
    raise unknown("problem", name, [*PROBLEM_MODULES, "moons_n<N>_h<width> (scale)"])


def scale_study():
    """The CPU x GPU study's parametric moons family (suites.scale: names, sizes, widths), reached
    through the registry like every problem."""
    return importlib.import_module("suites.scale")
