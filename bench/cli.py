"""The `bench` command line (typer + rich). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.errors import BenchInputError, unknown

DEFAULT_STORE = Path("results/bench.sqlite")
EXECUTORS = ("local",)
REPORT_FORMATS = ("md", "csv")
STATUS_STYLE = {"ok": "green", "diverged": "yellow", "unsupported": "cyan", "skipped": "dim"}

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark Bayesian inference across backends.")
console = Console(width=None if sys.stdout.isatty() else 200)  # logs and CI get the whole table


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@app.command("list")
def list_command(what: str = typer.Argument("all", help="suites, problems, methods or all")) -> None:
    """List suites, problems and methods."""
    import backends
    import suites

    choices = ("suites", "problems", "methods", "all")
    if what not in choices:
        raise unknown("listing", what, choices)
    if what in ("suites", "all"):
        table = Table("suite", "problems", "default methods", title="suites")
        for suite in suites.suite_names():
            table.add_row(suite, ", ".join(suites.problem_names(suite)), ", ".join(suites.DEFAULT_METHODS[suite]))
        console.print(table)
    if what in ("problems", "all"):
        table = Table("problem", "suite", "task", "latents", "description", title="problems")
        for name in suites.problem_names():
            problem = suites.get_problem(name)
            latents = sum(lat.size for lat in problem.latents)
            table.add_row(name, problem.suite, problem.task, str(latents), problem.description)
        console.print(table)
    if what in ("methods", "all"):
        table = Table("method", "variants", "kind", "installed", "pip extra", title="methods")
        for method in backends.registry().values():
            missing = method.missing()
            installed = "yes" if not missing else f"no ({', '.join(missing)})"
            table.add_row(method.name, ", ".join(method.known_variants), method.kind, installed, method.extra)
        console.print(table)


@app.command()
def run(
    suite: str = typer.Option(..., help="suite to run (see `bench list suites`)"),
    problems: str = typer.Option("", help="comma-separated problems of the suite (default: all)"),
    methods: str = typer.Option("", help="comma-separated methods, optionally method:variant (default: the suite's)"),
    seeds: int = typer.Option(1, help="number of seeds, 0..N-1"),
    device: str = typer.Option("cpu", help="cpu or gpu"),
    repeats: int = typer.Option(3, help="warm timed repeats per cell (median reported, all stored)"),
    jobs: int = typer.Option(1, help="cells run at once; above 1 the cells share the CPU and timings suffer"),
    executor: str = typer.Option("local", help="local"),
    timeout: float = typer.Option(1800.0, help="seconds before a cell is killed and recorded as timeout"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    force: bool = typer.Option(False, help="re-run cells already finished with the same hash"),
    x64: bool = typer.Option(False, "--x64", help="float64 everywhere (default float32)"),
    draws: int = typer.Option(4000, help="draws from q used for scoring (k-hat needs 2,000)"),
    set_: list[str] = typer.Option([], "--set", help="override a method setting: name=value (repeatable)"),
    tag: Optional[str] = typer.Option(None, help="label stored with the run"),
    compile_cache: bool = typer.Option(True, help="JAX persistent compilation cache under the store's folder"),
    strict: bool = typer.Option(False, help="exit 1 if any cell ends in error, timeout, oom or diverged"),
) -> None:
    """Run a suite's grid of cells and store every record."""
    from bench import driver, report
    from bench.executors import LocalExecutor
    from bench.plan import Request, build_plan, check_positive, parse_overrides
    from bench.store import check_readable

    if executor not in EXECUTORS:
        raise unknown("executor", executor, EXECUTORS)
    check_positive(jobs=jobs, timeout=timeout)
    request = Request(
        suite=suite, problems=_names(problems), methods=_names(methods), seeds=seeds, device=device,
        dtype="float64" if x64 else "float32", repeats=repeats, draws=draws, overrides=parse_overrides(set_),
    )  # fmt: skip
    cells = build_plan(request)
    check_readable(store)
    cache = store.parent / "cache" / "jax" if compile_cache else None
    pool = LocalExecutor(jobs=jobs, timeout=timeout, jax_cache=cache)
    console.print(f"[bold]{len(cells)} cells[/] ({suite}, {device}, {request.dtype}) -> {store}")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("running", total=len(cells))

        def on_record(record: dict) -> None:
            style = STATUS_STYLE.get(record["status"], "red")
            progress.console.print(f"  [{style}]{record['status']:<11}[/] {record['key']}  {record['wall_s']:.1f}s")
            progress.advance(task)

        outcome = driver.execute(
            cells, store, pool, force=force, tag=tag, command=shlex.join(["bench", *sys.argv[1:]]),
            env_extra={"jax_compilation_cache": str(cache) if cache else None}, on_record=on_record,
        )  # fmt: skip
        progress.update(task, completed=len(cells))
    table = report.latest_records(store, hashes=[c.hash for c in cells])
    _print_summary(table)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.statuses.items())) or "nothing new"
    console.print(f"run {outcome.run_id}: ran {outcome.ran} ({counts}), reused {outcome.reused} finished cells")
    if strict and any(s in outcome.statuses for s in ("error", "timeout", "oom", "diverged")):
        raise typer.Exit(1)


def _print_summary(table) -> None:
    from bench.report import summary_rows

    headers, rows = summary_rows(table)
    out = Table(title="summary")
    for header in headers:
        out.add_column(header, overflow="fold" if header == "reason" else "ellipsis", no_wrap=header != "reason")
    status_index = headers.index("status")
    for row in rows:
        style = STATUS_STYLE.get(row[status_index], "red")
        out.add_row(*row, style=None if style == "green" else style)
    console.print(out)


@app.command()
def report(
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    format: str = typer.Option("md", "--format", help="md or csv (long format)"),
    out: Optional[Path] = typer.Option(None, help="write to this file instead of stdout"),
    suite: Optional[str] = typer.Option(None, help="only this suite"),
    problems: str = typer.Option("", help="only these problems"),
    methods: str = typer.Option("", help="only these methods"),
) -> None:
    """Tables from the store (latest record per cell)."""
    from bench import report as reports
    from bench.store import Store

    if format not in REPORT_FORMATS:
        raise unknown("format", format, REPORT_FORMATS)
    Store(store).close()  # checks that the store exists and is readable
    table = reports.latest_records(store, suite=suite, problems=_names(problems), methods=_names(methods))
    text = reports.to_markdown(table) if format == "md" else reports.to_csv(table)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")


@app.command()
def env(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The environment a run would record: versions, CPU, GPU, threads, code state."""
    from bench import environment

    captured = environment.capture(dtype="float32", device="cpu")
    if as_json:
        sys.stdout.write(json.dumps(captured, indent=2, default=str) + "\n")
        return
    table = Table("field", "value", title="environment")
    for key, value in captured.items():
        if key == "packages":
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v)
        table.add_row(key, str(value))
    console.print(table)


def main() -> None:
    try:
        app()
    except BenchInputError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
