"""Suites group problems; each problem is one module that defines `PROBLEM`.

Besides the built-in tables below, problems come from plugins (the `bench.suites` entry-point
group: a module exposing PROBLEMS and optionally SUITES and DEFAULT_METHODS; docs/plugins.md) and,
when a local posteriordb clone is named (`--posteriordb PATH` or BENCH_POSTERIORDB), from the
clone: the posteriordb suite is then its posteriors that have a PyMC model and reference draws.
A `PROBLEM` (or a plugin's entry) may be a `Problem` or a `bench.spec.models.ModelProblem`, which
is built (its framework imported) only when the problem is used.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bench.spec.errors import BenchInputError, unknown
from bench.spec.family import ProblemFamily
from bench.spec.models import ModelProblem
from bench.spec.plugins import BUILT_IN, SUITE_GROUP, entry_point_modules, warn
from bench.spec.problem import Problem

__all__ = [
    "DEFAULT_METHODS",
    "POSTERIORDB_ENV",
    "PROBLEM_MODULES",
    "RUN_DEFAULTS",
    "SUITES",
    "declaration",
    "code_modules",
    "default_methods",
    "get_problem",
    "in_suite",
    "origins",
    "problem_names",
    "scale_family",
    "suite_names",
    "use_posteriordb",
]

POSTERIORDB_ENV = "BENCH_POSTERIORDB"  # a local posteriordb clone: its posteriors replace the built-in eight

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
    "posteriordb": (
        "eight_schools_noncentered",
        "arK",
        "diamonds",
        "kidiq_interaction",
        "earnings_interaction_z",
        "mesquite_logvas",
        "sblrc_blr",
        "nes2000",
    ),
    # A fixed, small grid for nightly performance tracking (under 10 minutes on 2 cores).
    "nightly": ("coinflip", "gaussian2d", "moons", "sine"),
    # The CPU x GPU study (`bench scale`): parametric names, any size and width (suites.scale).
    "scale": tuple(importlib.import_module("suites.scale").FAMILY.grid()),
}

# Methods a suite runs when --methods is not given.
DEFAULT_METHODS: dict[str, tuple[str, ...]] = {
    "toy": ("numpyro.svi",),
    "bnn": ("numpyro.svi",),
    # every VI method of every backend, each against Stan's reference draws
    "posteriordb": (
        "numpyro.svi:auto_normal",
        "numpyro.svi:auto_mvn",
        "numpyro.svi:auto_iaf",
        "numpyro.svi:auto_bnaf",
        "pymc.advi",
        "pymc.fullrank_advi",
        "torch.vi",
        "blackjax.meanfield_vi",
        "blackjax.fullrank_vi",
        "blackjax.pathfinder",
        "flowjax.flow_vi",
    ),
    "nightly": ("numpyro.svi:auto_normal",),
    "scale": ("numpyro.svi:auto_normal", "blackjax.meanfield_vi", "torch.vi"),
}

# The protocol a suite's cells run under when neither the command line, a grid file nor the problem's
# recipe names one (bench.spec.protocols): the seeds' recipes for the seeds' suites, the tuned search
# for posteriordb (whose one shared recipe is no library's best).
DEFAULT_PROTOCOL: dict[str, str] = {"toy": "recipe", "bnn": "recipe", "posteriordb": "tuned"}

# Run options a suite sets when the command line does not: enough samples for the regression gate.
RUN_DEFAULTS: dict[str, dict[str, int]] = {
    "nightly": {"repeats": 5, "seeds": 2},
}


@dataclass
class _Extra:
    """What plugins and a posteriordb clone add: declarations, suites, default methods, origins."""

    problems: dict[str, Any] = field(default_factory=dict)  # name -> Problem | ModelProblem
    suites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_methods: dict[str, tuple[str, ...]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)


def _plugin_refusal(module, origin: str, extra: _Extra) -> str | None:
    problems = getattr(module, "PROBLEMS", None)
    if not isinstance(problems, dict) or not all(isinstance(p, (Problem, ModelProblem)) for p in problems.values()):
        return (
            f"plugin suite {module.__name__} ({origin}) refused: it must expose PROBLEMS, a dict of name -> "
            "Problem or ModelProblem"
        )
    suites = getattr(module, "SUITES", {})
    for name in problems:
        if name in PROBLEM_MODULES or name in extra.problems:
            return f"plugin suite {module.__name__} ({origin}) refused: problem {name!r} is already registered"
    for name, members in suites.items():
        if name in SUITES or name in extra.suites:
            return f"plugin suite {module.__name__} ({origin}) refused: suite {name!r} is already registered"
        if set(members) - set(problems):
            return f"plugin suite {module.__name__} ({origin}) refused: suite {name!r} names problems it lacks"
    return None


@cache
def _plugins() -> _Extra:
    extra = _Extra()
    for origin, module in entry_point_modules(SUITE_GROUP):
        refusal = _plugin_refusal(module, origin, extra)
        if refusal:
            warn(refusal)
            continue
        problems = dict(module.PROBLEMS)
        suites = dict(getattr(module, "SUITES", {})) or {
            suite: tuple(n for n, p in problems.items() if p.suite == suite)
            for suite in {p.suite for p in problems.values()}
        }
        if any(s in SUITES for s in suites):  # a problem's own suite name collides with a built-in suite
            clash = sorted(set(suites) & set(SUITES))[0]
            warn(f"plugin suite {module.__name__} ({origin}) refused: suite {clash!r} is built in")
            continue
        extra.problems.update(problems)
        extra.suites.update({k: tuple(v) for k, v in suites.items()})
        extra.default_methods.update({k: tuple(v) for k, v in getattr(module, "DEFAULT_METHODS", {}).items()})
        extra.origins.update({name: origin for name in problems})
    return extra


def _clone_reader():
    """suites.posteriordb.clone, reached by name like every problem module (the harness never imports it)."""
    return importlib.import_module("suites.posteriordb.clone")


@cache
def _clone(path: str) -> _Extra:
    problems = _clone_reader().problems(path)
    return _Extra(
        problems=problems,
        suites={"posteriordb": tuple(problems)},
        origins={name: f"posteriordb clone {path}" for name in problems},
    )


def use_posteriordb(path) -> None:
    """Read the posteriordb suite from a local clone (also for the cells' worker processes)."""
    _clone_reader().check(path)  # a path that is not a clone: exit 2, naming what it lacks
    os.environ[POSTERIORDB_ENV] = str(path)


def _extras() -> list[_Extra]:
    path = os.environ.get(POSTERIORDB_ENV)
    return [_plugins()] + ([_clone(path)] if path else [])


def _suites() -> dict[str, tuple[str, ...]]:
    table = dict(SUITES)
    for extra in _extras():
        table.update(extra.suites)
    return table


def default_methods(suite: str) -> tuple[str, ...]:
    for extra in _extras():
        if suite in extra.default_methods:
            return extra.default_methods[suite]
    return DEFAULT_METHODS.get(suite, DEFAULT_METHODS["toy"])


def suite_names() -> list[str]:
    return list(_suites())


def problem_names(suite: str | None = None) -> list[str]:
    if suite is None:
        names = [n for n in PROBLEM_MODULES if not (os.environ.get(POSTERIORDB_ENV) and n in SUITES["posteriordb"])]
        return names + [n for extra in _extras() for n in extra.problems]
    table = _suites()
    if suite not in table:
        raise unknown("suite", suite, table)
    return list(table[suite])


def origins() -> dict[str, str]:
    """{problem name: "built in", a plugin's "distribution version", or the posteriordb clone}."""
    table = {name: BUILT_IN for name in PROBLEM_MODULES}
    for extra in _extras():
        table.update(extra.origins)
    return table


def in_suite(suite: str, name: str) -> bool:
    """Whether a problem belongs to a suite; the scale suite holds every parametric scale name."""
    return name in problem_names(suite) or (suite == "scale" and scale_family().parse(name) is not None)


def declaration(name: str) -> Problem | ModelProblem:
    """A problem's declaration without building a model problem (listing stays light)."""
    for extra in reversed(_extras()):
        if name in extra.problems:
            return extra.problems[name]
    if name in PROBLEM_MODULES:
        return importlib.import_module(PROBLEM_MODULES[name]).PROBLEM
    if scale_family().parse(name) is not None:
        return scale_family().make_problem(name)
    raise unknown("problem", name, [*problem_names(), "moons_n<N>_h<width> (scale)"])


@cache
def _built(name: str) -> Problem:
    found = declaration(name)
    if isinstance(found, ModelProblem):
        try:
            return found.problem()
        except Exception as exc:  # a model that fails to build is a row with the reason, not a crash
            return broken(found, f"the model failed to build: {type(exc).__name__}: {exc}")
    return found


def code_modules(name: str) -> tuple[str, ...]:
    """The modules that define a problem (a cell's hash covers them and what they import)."""
    found = declaration(name)
    if isinstance(found, ModelProblem):
        return (found.model.__module__,)
    modules = {getattr(f, "__module__", None) for f in (found.make_data, found.potential, found.reference)}
    if name in PROBLEM_MODULES:
        modules.add(PROBLEM_MODULES[name])
    return tuple(sorted(m for m in modules if m and m != "bench.spec.models"))


def get_problem(name: str) -> Problem:
    return _built(name)


def broken(found: ModelProblem, reason: str) -> Problem:
    """A stand-in for a model problem that cannot be built: planned like any other, every cell an
    error row with the reason (config["broken"])."""
    from bench.spec.priors import Flat
    from bench.spec.problem import Latent

    def potential(ops, values):
        raise BenchInputError(reason)

    from bench.spec.models import make_data

    return Problem(
        name=found.name,
        suite=found.suite,
        description=found.description,
        latents=(Latent("x", Flat()),),
        task=found.task,
        make_data=make_data,
        potential=potential,
        recipe=found.recipe,
        config={"broken": reason},
    )


def scale_family() -> ProblemFamily:
    """The CPU x GPU study's parametric moons family (suites.scale: names, sizes, widths), reached
    through the registry like every problem."""
    return importlib.import_module("suites.scale").FAMILY
