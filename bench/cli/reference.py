"""`bench reference build|verify|list`: NUTS reference posteriors with gates and provenance."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from time import perf_counter

import typer
from rich.console import Console
from rich.table import Table

from bench.spec.errors import BenchInputError, unknown
from bench.references.store import DEFAULT_DIR

reference_app = typer.Typer(no_args_is_help=True, help="Build, verify and list MCMC reference posteriors.")
console = Console(width=None if sys.stdout.isatty() else 200)
VERDICT_STYLE = {"ok": "green", "failed": "red", "stale": "yellow"}


def _select(suite: str, problems: str) -> list[str]:
    import suites

    names = suites.problem_names(suite or None)  # raises on an unknown suite
    from bench.cli.selection import parse_names

    chosen = parse_names(problems, "--problems", lambda: names)
    for name in chosen:
        if name not in names:
            raise unknown(f"problem{' in suite ' + suite if suite else ''}", name, names)
    return chosen or names


def _overrides(items: list[str]) -> dict[str, int | float]:
    from bench.execution.plan import parse_overrides
    from bench.references.build import BuildSettings

    fields = {f.name: f for f in dataclasses.fields(BuildSettings)}
    values: dict[str, int | float] = {}
    for name, raw in parse_overrides(items).items():
        if name not in fields:
            raise BenchInputError(f"unknown reference setting {name!r}; valid settings: {', '.join(fields)}")
        kind = float if name == "target_accept" else int
        try:
            values[name] = kind(raw)
        except ValueError:
            raise BenchInputError(f"reference setting {name}={raw!r} is not a number") from None
        if not 0 < values[name] < float("inf") or (name == "target_accept" and not values[name] < 1):
            raise BenchInputError(f"reference setting {name}={raw} is out of range (positive; target_accept < 1)")
    return values


def _cell(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None else format(value, digits)


@reference_app.command("build")
def build_command(
    suite: str = typer.Option("", help="build references for this suite's problems"),
    problems: str = typer.Option("", help="comma-separated problems (default: all of the suite, or all)"),
    seeds: int = typer.Option(1, help="data seeds 0..N-1"),
    sampler: str = typer.Option("numpyro.nuts", help="numpyro.nuts or blackjax.nuts"),
    directory: Path = typer.Option(
        DEFAULT_DIR, "--references", help="where references live (the same option as under run, report and plot)"
    ),
    set_: list[str] = typer.Option([], "--set", help="override a NUTS setting: chains, warmup, draws, thin, ..."),
    force: bool = typer.Option(False, help="rebuild references that are present and fresh"),
) -> None:
    """Run NUTS per (problem, seed), check the gates and store draws, verdict and provenance."""
    import suites
    from bench.references import build as reference_build
    from bench.references import store as reference_store

    names = _select(suite, problems)
    if sampler not in reference_build.SAMPLERS:
        raise unknown("reference sampler", sampler, reference_build.SAMPLERS)
    if seeds <= 0:
        raise BenchInputError(f"--seeds must be a positive number, got {seeds}")
    overrides = _overrides(set_)
    from backends import get_method

    missing = get_method(sampler).missing()
    if missing:
        raise BenchInputError(f"{sampler} needs {', '.join(missing)}: pip install 'bench[{get_method(sampler).extra}]'")
    for name in names:
        problem = suites.get_problem(name)
        settings = reference_build.settings_for(problem, overrides)
        for seed in range(seeds):
            existing = reference_store.find(directory, name, seed)
            if existing is not None and not force and existing.stale_reason(problem, problem.make_data(seed)) is None:
                console.print(f"  [dim]present[/] {name} seed {seed}: {existing.verdict} (--force rebuilds)")
                continue
            console.print(
                f"  building {name} seed {seed} with {sampler} "
                f"({settings.chains} chains x {settings.draws} draws, thin {settings.thin}) ..."
            )
            start = perf_counter()
            stored = reference_build.build(problem, seed, sampler, settings, directory)
            p = stored.provenance
            style = VERDICT_STYLE[stored.verdict]
            console.print(
                f"  [{style}]{stored.verdict}[/] {name} seed {seed}: R-hat {p['diagnostics']['r_hat_max']:.4f}, "
                f"ESS bulk {p['diagnostics']['ess_bulk_min']:.0f} tail {p['diagnostics']['ess_tail_min']:.0f}, "
                f"{p['divergences']:.0f} divergences, {perf_counter() - start:.0f}s"
                + (f"; {'; '.join(p['failures'])}" if p["failures"] else "")
            )


def _rows(directory: Path, names: list[str] | None, recompute: bool):
    import suites
    from bench.references import build as reference_build
    from bench.references import store as reference_store

    for stored in reference_store.find_all(directory):
        if names is not None and stored.problem not in names:
            continue
        problem = suites.get_problem(stored.problem)
        data = problem.make_data(stored.seed)
        stale = stored.stale_reason(problem, data)
        p = stored.provenance
        diag, check, failures = p["diagnostics"], p.get("exact_check"), list(p.get("failures", []))
        if recompute and stale is None:  # re-derive everything from the stored draws, not the JSON
            draws = reference_store.load_draws(stored, problem)
            diag, check, failures = reference_build.check_draws(problem, data, draws, p["chains"])
        verdict = "stale" if stale else ("failed" if failures else "ok")
        yield stored, verdict, diag, check, failures, stale


def _verify_translations(names: list[str], samplers: str, overrides: dict[str, int | float]) -> None:
    """Problems with external reference draws (posteriordb): our NUTS on our translation against them."""
    import suites
    from bench.references import build as reference_build
    from bench.references import translation_check

    chosen = [s.strip() for s in samplers.split(",") if s.strip()]
    for sampler in chosen:
        if sampler not in reference_build.SAMPLERS:
            raise unknown("reference sampler", sampler, reference_build.SAMPLERS)
    table = Table(
        "problem",
        "sampler",
        "chains x draws",
        "verdict",
        "worst (MCSE)",
        "component",
        "divergences",
        "min bulk ESS",
        "time (s)",
        "why",
        title="translations against external reference draws",
    )
    bad = 0
    for name in names:
        problem = suites.get_problem(name)
        settings = reference_build.settings_for(problem, overrides)
        for sampler in chosen:
            result = translation_check.check(problem, sampler, settings)
            bad += not result["passed"]
            verdict = "[green]pass[/]" if result["passed"] else "[red]FAIL[/]"
            row = (
                name,
                sampler,
                f"{settings.chains}x{settings.draws}",
                verdict,
                f"{result['worst_mcse_multiple']:.2f}",
                f"{result['worst_component']} {result['worst_statistic']}",
                _cell(result["divergences"], ".0f"),
                _cell(result["ess_bulk_min"], ".0f"),
                f"{result['wall_s']:.0f}",
                "; ".join(result["failures"]),
            )
            table.add_row(*row)
            console.print("  " + " | ".join(row))  # each result as it lands: a full check takes a while
    console.print(table)
    if bad:
        console.print(
            f"[red]{bad} of {table.row_count} translation checks failed (> {reference_build.MCSE_TOLERANCE:g} MCSE)[/]"
        )
        raise typer.Exit(1)
    console.print(f"all {table.row_count} translation checks within {reference_build.MCSE_TOLERANCE:g} MCSE")


@reference_app.command("verify")
def verify_command(
    directory: Path = typer.Option(
        DEFAULT_DIR, "--references", help="where references live (the same option as under run, report and plot)"
    ),
    suite: str = typer.Option("", help="only this suite's references"),
    problems: str = typer.Option("", help="only these problems"),
    samplers: str = typer.Option(
        "numpyro.nuts,blackjax.nuts",
        help="for problems with external reference draws (posteriordb): the NUTS samplers run",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="for external references: override a NUTS setting (chains, draws, ...)"
    ),
) -> None:
    """Re-check every stored reference from its draws: freshness, gates, and agreement with the exact
    reference within 5 Monte Carlo standard errors where one exists. Problems whose reference is
    external draws (posteriordb) are checked the other way round: our NUTS on our translation must
    reproduce every reference mean and sd within 5 MCSE. Exit 1 if any fails."""
    names = _select(suite, problems) if (suite or problems) else None
    if names is not None:
        import suites
        from bench.references.translation_check import has_external_draws

        external = [n for n in names if has_external_draws(suites.get_problem(n))]
        if external:
            overrides = _overrides(set_)
            _verify_translations(external, samplers, overrides)
            names = [n for n in names if n not in external]
            if not names:
                return
    table = Table(
        "problem",
        "seed",
        "verdict",
        "max R-hat",
        "min bulk ESS",
        "min tail ESS",
        "vs exact (MCSE)",
        "exact check",
        "why",
        title=f"references in {directory}",
    )
    bad = 0
    for stored, verdict, diag, check, failures, stale in _rows(directory, names, recompute=True):
        bad += verdict != "ok"
        exact = "" if check is None else ("pass" if check["passed"] else "FAIL")
        table.add_row(
            stored.problem,
            str(stored.seed),
            f"[{VERDICT_STYLE[verdict]}]{verdict}[/]",
            _cell(diag["r_hat_max"]),
            _cell(diag["ess_bulk_min"], ".0f"),
            _cell(diag["ess_tail_min"], ".0f"),
            "" if check is None else f"{check['worst_mcse_multiple']:.2f}",
            exact,
            stale or "; ".join(failures),
        )
    if not table.row_count:
        raise BenchInputError(f"no references in {directory}; build them: bench reference build --suite toy")
    console.print(table)
    if bad:
        console.print(f"[red]{bad} of {table.row_count} references failed verification[/]")
        raise typer.Exit(1)
    console.print(f"all {table.row_count} references pass their gates and checks")


@reference_app.command("list")
def list_command(
    directory: Path = typer.Option(
        DEFAULT_DIR, "--references", help="where references live (the same option as under run, report and plot)"
    ),
) -> None:
    """Stored references with their verdicts and diagnostics (as recorded at build time)."""
    table = Table(
        "problem",
        "seed",
        "sampler",
        "draws",
        "verdict",
        "max R-hat",
        "min bulk ESS",
        "min tail ESS",
        "divergences",
        "pred. R-hat",
        "built",
        "failures",
        title=f"references in {directory}",
    )
    for stored, verdict, diag, _, failures, stale in _rows(directory, None, recompute=False):
        p = stored.provenance
        predictive = p.get("predictive", {}).get("test_r_hat_max")
        table.add_row(
            stored.problem,
            str(stored.seed),
            p["sampler"],
            f"{p['chains']}x{p['draws_total'] // p['chains']}",
            f"[{VERDICT_STYLE[verdict]}]{verdict}[/]",
            _cell(diag["r_hat_max"]),
            _cell(diag["ess_bulk_min"], ".0f"),
            _cell(diag["ess_tail_min"], ".0f"),
            _cell(p.get("divergences"), ".0f"),
            _cell(predictive),
            p.get("built_at", "")[:16],
            stale or "; ".join(failures),
        )
    if not table.row_count:
        console.print(f"no references in {directory}; build them: bench reference build --suite toy")
        return
    console.print(table)
