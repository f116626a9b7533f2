"""Planning: resolve a request into cells, checking every name and number before anything runs."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import backends
import suites
from bench.execution.options import DEVICES, EXECUTORS, RunOptions
from bench.runtime import code_identity, environment, gpu
from bench.runtime import threads as thread_policy
from bench.references import store as reference_store
from bench.records.cells import Cell, content_hash
from bench.spec.errors import BenchInputError, unknown
from bench.spec.methods import Method, resolve_settings
from bench.spec.protocols import DEFAULT_PROTOCOL, check_protocol

DTYPES = ("float32", "float64")
CORE_PACKAGES = ("numpy", "scipy", "arviz")


@dataclass(frozen=True)
class Request:
    suite: str
    problems: Sequence[str] = ()
    methods: Sequence[str] = ()
    seeds: int = 1
    device: str = "cpu"
    dtype: str = "float32"
    repeats: int = 3
    draws: int = 4000
    overrides: Mapping[str, str] = field(default_factory=dict)
    references: Path | None = None  # folder of stored MCMC references (None: score without them)
    device_elsewhere: bool = False  # cells run on a cluster's workers, which check the device themselves
    threads: int = 1  # per cell, for every framework (bench.runtime.threads)
    protocol: str | None = None  # None: the problem's recipe names it, else the suite's default (resolve_protocol)


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """`--set name=value` pairs into a dict (values stay strings until a method types them)."""
    overrides: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BenchInputError(f"--set takes name=value, got {item!r}")
        overrides[name.strip()] = value.strip()
    return overrides


def check_positive(**counts: float) -> None:
    """Counts and durations: positive and finite (a NaN compares false with everything, so a NaN
    timeout would otherwise mean no timeout at all)."""
    for name, value in counts.items():
        if value is None or not math.isfinite(value) or value <= 0:
            raise BenchInputError(f"--{name} must be a positive number, got {value}")


def check_device(device: str) -> None:
    """The device's name only: whether a GPU is there is the pre-flight's question (gpu_unsupported)."""
    if device not in DEVICES:
        raise unknown("device", device, DEVICES)


def gpu_unsupported(device: str, method_names: Sequence[str]) -> dict[str, str]:
    """On `--device gpu`, the pre-flight (bench.runtime.gpu): each chosen method's framework asked whether
    it sees a GPU; none does -> exit 2 naming the fix; {method: reason} for those that do not."""
    if device != "gpu":
        return {}
    return gpu.preflight(method_names)


def split_method(spec: str) -> tuple[str, str]:
    """'numpyro.svi:beta' -> ('numpyro.svi', 'beta'); the method and variant are both checked."""
    name, _, variant = spec.partition(":")
    method = backends.get_method(name.strip())
    variant = variant.strip()
    if variant and variant not in method.known_variants:
        raise unknown(f"variant of {method.name}", variant, method.known_variants)
    missing = method.missing()
    if missing:
        raise BenchInputError(
            f"method {method.name} needs {', '.join(missing)}, which is not installed: pip install 'bench[{method.extra}]'"
        )
    return method.name, variant


def build_plan(request: Request) -> list[Cell]:
    problem_names = suites.problem_names(request.suite)  # raises on an unknown suite
    for name in request.problems:
        if not suites.in_suite(request.suite, name):
            raise unknown(f"problem in suite {request.suite}", name, problem_names)
    chosen = list(request.problems) or problem_names
    method_specs = list(request.methods) or list(suites.default_methods(request.suite))
    methods = [split_method(spec) for spec in method_specs]
    check_positive(seeds=request.seeds, repeats=request.repeats, draws=request.draws)
    if request.protocol is not None:
        check_protocol(request.protocol)
    check_device(request.device)
    if request.dtype not in DTYPES:
        raise unknown("dtype", request.dtype, DTYPES)
    _check_overrides_apply(methods, request.overrides)
    # on a cluster the workers hold the GPUs: their frameworks are asked there, not here
    no_gpu = {} if request.device_elsewhere else gpu_unsupported(request.device, [name for name, _ in methods])

    harness = code_identity.harness_fingerprint()
    versions_of = {
        name: environment.package_versions(CORE_PACKAGES + backends.registry()[name].requires) for name, _ in methods
    }
    cells: list[Cell] = []
    for problem_name in chosen:
        problem = suites.get_problem(problem_name)
        protocol = resolve_protocol(request.protocol, problem, request.suite)
        spec_hash = problem.fingerprint()
        problem_code = suites.code_modules(problem_name)
        failed = problem.config.get("broken")  # a model that did not build, or (asked for) a failed translation check
        if failed is None and problem.config.get("check_translation"):
            from bench.references import translation_check

            failed = translation_check.gate(problem, request.references)
        datasets = {seed: problem.make_data(seed) for seed in range(request.seeds)}
        data_hashes = {seed: data.fingerprint() for seed, data in datasets.items()}
        stored = {seed: _stored_reference(request, problem, seed, data) for seed, data in datasets.items()}
        for method_name, variant in methods:
            method = backends.registry()[method_name]
            # the code this cell depends on (not the commit): its problem's and backend's modules, the harness's
            modules = problem_code + code_identity.method_modules(method.fit)
            code = {"harness": harness, "modules": code_identity.fingerprint(modules)}
            applicable = method.variants(problem)
            for var in [variant] if variant else applicable:
                reason = method.unsupported(problem, request.device) or no_gpu.get(method_name)
                if var not in applicable:
                    reason = (
                        f"{method.label(var)} does not apply to {problem_name}; applicable: {', '.join(applicable)}"
                    )
                overrides = {k: v for k, v in request.overrides.items() if k in _setting_names(method)}
                settings = resolve_settings(method, problem, var, overrides, protocol)
                for seed in range(request.seeds):
                    cell = Cell(
                        suite=problem.suite,
                        problem=problem_name,
                        method=method_name,
                        variant=var,
                        seed=seed,
                        device=request.device,
                        dtype=request.dtype,
                        repeats=request.repeats,
                        draws=request.draws,
                        settings=settings,
                        unsupported=None if failed else reason,
                        failed=failed,
                        reference=str(stored[seed].provenance_path) if stored[seed] else "",
                        threads=request.threads,
                    )
                    fingerprints = {
                        "spec": spec_hash,
                        "data": data_hashes[seed],
                        "versions": versions_of[method_name],
                        "code": code,
                        "reference": stored[seed].digest if stored[seed] else None,
                    }
                    cells.append(dataclasses.replace(cell, hash=content_hash(cell, fingerprints)))
    _check_distinct(cells)
    return cells


def resolve_protocol(chosen: str | None, problem, suite: str) -> str:
    """The run's choice (--protocol or a grid file), else the problem's recipe, else the suite's default."""
    return check_protocol(chosen or problem.recipe.protocol or suites.DEFAULT_PROTOCOL.get(suite, DEFAULT_PROTOCOL))


def _check_distinct(cells: list[Cell]) -> None:
    """A cell named twice (`numpyro.svi` beside `numpyro.svi:auto_normal`) would run twice: refused."""
    seen: set[str] = set()
    for cell in cells:
        if cell.key in seen:
            raise BenchInputError(f"the selection names cell {cell.key} more than once; name each method variant once")
        seen.add(cell.key)


def _stored_reference(request: Request, problem, seed: int, data) -> reference_store.StoredReference | None:
    """The MCMC reference a problem without an exact one is scored against; a stale one stops the
    run before anything is written (exit 2), naming the rebuild command."""
    if problem.reference is not None or request.references is None:
        return None
    stored = reference_store.find(request.references, problem.name, seed)
    if stored is not None:
        reference_store.require_fresh(stored, problem, data)
    return stored


def _setting_names(method: Method) -> set[str]:
    return {f.name for f in dataclasses.fields(method.settings)}


def _check_overrides_apply(methods: list[tuple[str, str]], overrides: Mapping[str, str]) -> None:
    known = set().union(*(_setting_names(backends.registry()[name]) for name, _ in methods))
    for name in overrides:
        if name not in known:
            raise BenchInputError(
                f"unknown setting {name!r} for the chosen methods; valid settings: {', '.join(sorted(known))}"
            )


def _first(*values):
    """The first value given (None is not given; 0 is, and the checks refuse it)."""
    return next(value for value in values if value is not None)


def plan_blocks(
    blocks,
    options: RunOptions,
    explicit_seeds: int | None = None,
    explicit_repeats: int | None = None,
    explicit_protocol: str | None = None,
) -> list[Cell]:
    """Every block of a grid (bench.execution.grid_config.GridBlock) planned with the run options;
    a cell named twice is planned once. Seeds: the command line's, the block's, the file's, the
    suite's, 1; repeats likewise without the block; the protocol: the command line's, the block's, the
    file's, else per problem (its recipe's, else the suite's)."""
    if options.protocol is not None:
        check_protocol(options.protocol)
    if options.executor not in EXECUTORS:
        raise unknown("executor", options.executor, EXECUTORS)
    if options.scheduler is not None and options.executor != "dask":
        raise BenchInputError(f"--scheduler needs --executor dask (got --executor {options.executor})")
    check_positive(jobs=options.jobs, timeout=options.timeout)
    thread_policy.check(options.threads, options.jobs)
    cells, seen = [], {}
    for block in blocks:
        defaults = suites.RUN_DEFAULTS.get(block.suite, {})
        request = Request(
            suite=block.suite,
            problems=block.problems,
            methods=block.methods,
            seeds=_first(explicit_seeds, block.seeds, options.seeds, defaults.get("seeds", 1)),
            device=options.device,
            dtype=options.dtype,
            repeats=_first(explicit_repeats, options.repeats, defaults.get("repeats", 3)),
            draws=options.draws,
            overrides=block.overrides,
            references=options.references_dir,
            device_elsewhere=options.scheduler is not None,
            threads=options.threads,
            protocol=next((p for p in (explicit_protocol, block.protocol, options.protocol) if p is not None), None),
        )
        for cell in build_plan(request):
            if cell.key in seen and seen[cell.key] != cell.hash:
                raise BenchInputError(f"cell {cell.key} is declared twice with different settings; keep one")
            if cell.key not in seen:
                seen[cell.key] = cell.hash
                cells.append(cell)
    return cells
