"""Methods as small records of pure functions, and the resolution of their settings.

A method's record is light: its settings dataclass, defaults and variants import nothing heavy,
so planning and input validation never load a framework. The fit function is named by a
"module:function" path and imported only inside the cell's worker process.
"""

from __future__ import annotations

import dataclasses
import math
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bench.spec.errors import BenchInputError, Unsupported
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem
from bench.spec.protocols import DEFAULT_PROTOCOL, PROTOCOLS, TUNED_INIT_SCALE, check_protocol

Settings = Any  # an instance of the method's own frozen settings dataclass (Method.settings)


class FitFunction(Protocol):
    def __call__(self, problem: Problem, data: Dataset, settings: Settings, context: FitContext) -> FitResult: ...


def _no_variants(problem: Problem) -> list[str]:
    return [""]


def _no_defaults(problem: Problem, variant: str) -> dict[str, Any]:
    return {}


def _always(problem: Problem, device: str) -> str | None:
    return None


@dataclass(frozen=True)
class Method:
    name: str  # "backend.method", e.g. "numpyro.svi"
    settings: type  # frozen dataclass of every setting, with its generic default
    fit: str  # "module:function", imported lazily in the worker
    extra: str  # the pip extra that installs the backend
    requires: tuple[str, ...] = ()  # importable modules the method needs
    kind: str = "vi"  # "vi" | "mcmc" | "test"
    variant_setting: str | None = None  # the setting a variant fixes (e.g. "guide")
    variants: Callable[[Problem], list[str]] = _no_variants  # the variants that apply to a problem
    known_variants: tuple[str, ...] = ()  # every variant name, for validating user input
    defaults: Callable[[Problem, str], dict[str, Any]] = _no_defaults  # the `recipe` protocol's values
    unsupported: Callable[[Problem, str], str | None] = _always
    # The `defaults` protocol: the library's own documented defaults (each source named where they are
    # declared); None: the method has no optimiser settings of its own to default (samplers).
    library_defaults: Callable[[Problem, str], dict[str, Any]] | None = None
    # The `tuned` protocol: the settings the search runs with (schedule, starting scale, ...) on top of
    # the recipe; None: nothing to tune (samplers adapt their own step sizes).
    tuned: Callable[[Problem, str], dict[str, Any]] | None = None

    @property
    def backend(self) -> str:
        """The backend's name, the method name's first part (a plugin may not reuse a built-in one)."""
        return self.name.split(".", 1)[0]

    def missing(self) -> list[str]:
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def load_fit(self) -> FitFunction:
        missing = self.missing()
        if missing:
            raise Unsupported(f"{', '.join(missing)} not installed: pip install 'bench[{self.extra}]'")
        module, function = self.fit.split(":")
        return getattr(importlib.import_module(module), function)

    def make_settings(self, values: Mapping[str, Any]) -> Settings:
        """The settings dataclass from resolved values (a cell's JSON): what the fit function reads.
        Every cell carries its protocol; a method whose settings have no such field takes it as a label."""
        fields = {f.name for f in dataclasses.fields(self.settings)}
        return self.settings(**{k: v for k, v in values.items() if k != "protocol" or k in fields})

    def label(self, variant: str) -> str:
        return f"{self.name}:{variant}" if variant else self.name


def _coerce(field: dataclasses.Field, raw: Any) -> Any:
    kind = (
        field.type
        if isinstance(field.type, type)
        else {"int": int, "float": float, "bool": bool, "str": str}.get(str(field.type), str)
    )
    if not isinstance(raw, str):
        return kind(raw)
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    value = kind(raw)
    if kind is float and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def resolve_settings(
    method: Method, problem: Problem, variant: str, overrides: Mapping[str, Any], protocol: str = DEFAULT_PROTOCOL
) -> dict[str, Any]:
    """Generic defaults < the protocol's values (the recipe; or the library's defaults; or the recipe
    with the tuned search's settings) < variant < user overrides; unknown names rejected. The
    result carries `protocol`."""
    check_protocol(protocol)
    fields = {f.name: f for f in dataclasses.fields(method.settings)}
    unknown_names = sorted(set(overrides) - set(fields))
    if unknown_names:
        raise BenchInputError(
            f"unknown setting {unknown_names[0]!r} for {method.name}; valid settings: {', '.join(sorted(fields))}"
        )
    if "protocol" in overrides:
        raise BenchInputError(
            f"the protocol is a run option: --protocol {' | '.join(PROTOCOLS)}, not --set protocol=..."
        )
    if protocol == "tuned" and method.tuned is not None and "learning_rate" in overrides:
        raise BenchInputError(
            f"learning_rate is what the tuned protocol searches for {method.name}; drop --set learning_rate "
            "or run --protocol recipe"
        )
    values: dict[str, Any] = {**method.defaults(problem, variant)}
    if protocol == "defaults" and method.library_defaults is not None:
        values.update(method.library_defaults(problem, variant))
    if protocol == "tuned" and method.tuned is not None:
        values.update(method.tuned(problem, variant))
    if "protocol" in fields:
        values["protocol"] = protocol
    if method.variant_setting and variant:
        values[method.variant_setting] = variant
    for name, raw in overrides.items():
        try:
            values[name] = _coerce(fields[name], raw)
        except ValueError as exc:
            raise BenchInputError(f"setting {name}={raw!r} for {method.name}: {exc}") from None
    try:
        settings = method.settings(**values)
    except (TypeError, ValueError) as exc:
        raise BenchInputError(f"{method.name} on {problem.name}: {exc}") from None
    return {**dataclasses.asdict(settings), "protocol": protocol}


def recipe_defaults(name: str, particles: bool = True) -> Callable[[Problem, str], dict[str, Any]]:
    """A VI method's defaults from the problem's recipe: its steps (the method's own count where the
    recipe names one), learning rate and (unless the method keeps its own) particles."""

    def defaults(problem: Problem, variant: str) -> dict[str, Any]:
        recipe = problem.recipe
        values: dict[str, Any] = {"steps": recipe.steps_for(name), "learning_rate": recipe.learning_rate}
        if particles:
            values["particles"] = recipe.particles
        return values

    return defaults


NOT_COMPARED = {"compared": False}  # field metadata: a setting left out of a cell's identity in comparisons


def not_compared(default: Any) -> Any:
    """A setting field that stands for a change of code, not of the computation compared (the testing
    backend's planted slowdown): `bench compare` and `bench history` match cells that differ only in
    it. It stays in the cell's hash, so a run with another value still re-runs the cell."""
    return dataclasses.field(default=default, metadata=NOT_COMPARED)


def compared_settings(method: Method | None, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that make a cell's identity when it is compared (all but `not_compared` ones)."""
    if method is None:
        return dict(settings)
    skip = {f.name for f in dataclasses.fields(method.settings) if f.metadata.get("compared") is False}
    return {name: value for name, value in settings.items() if name not in skip}


def require_positive(settings: Any, *names: str) -> None:
    """Shared validation for counts and rates in settings dataclasses."""
    for name in names:
        value = getattr(settings, name)
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


def tuned_defaults(**extra: Any) -> Callable[[Problem, str], dict[str, Any]]:
    """The tuned protocol's settings for a VI method: the step decay and the common starting scale of q
    (bench.spec.protocols), plus what the method needs to run in its fastest form (`extra`)."""

    def tuned(problem: Problem, variant: str) -> dict[str, Any]:
        return {"schedule": "step_decay", "init_scale": TUNED_INIT_SCALE, **extra}

    return tuned
