"""The `bench` command line (typer + rich). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import json
import shlex
import signal
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
REPORT_FORMATS = ("md", "latex", "html", "csv", "summary")
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
    seeds: Optional[int] = typer.Option(None, help="number of seeds, 0..N-1 (default 1, or the suite's)"),
    device: str = typer.Option("cpu", help="cpu or gpu"),
    repeats: Optional[int] = typer.Option(None, help="warm timed repeats per cell, all stored (default 3, or the suite's)"),
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
    references: Optional[Path] = typer.Option(None, help="stored MCMC references (default: references/ beside the store)"),
) -> None:
    """Run a suite's grid of cells and store every record."""
    import suites
    from bench import driver, report
    from bench.executors import LocalExecutor
    from bench.plan import Request, build_plan, check_positive, parse_overrides
    from bench.store import check_readable

    defaults = suites.RUN_DEFAULTS.get(suite, {})
    seeds = defaults.get("seeds", 1) if seeds is None else seeds
    repeats = defaults.get("repeats", 3) if repeats is None else repeats
    if executor not in EXECUTORS:
        raise unknown("executor", executor, EXECUTORS)
    check_positive(jobs=jobs, timeout=timeout)
    request = Request(
        suite=suite, problems=_names(problems), methods=_names(methods), seeds=seeds, device=device,
        dtype="float64" if x64 else "float32", repeats=repeats, draws=draws, overrides=parse_overrides(set_),
        references=references or store.parent / "references",
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

        _interrupt_on_signals()
        try:
            outcome = driver.execute(
                cells, store, pool, force=force, tag=tag, command=shlex.join(["bench", *sys.argv[1:]]),
                env_extra={"jax_compilation_cache": str(cache) if cache else None}, on_record=on_record,
            )  # fmt: skip
        except KeyboardInterrupt:
            progress.stop()
            console.print(f"[yellow]interrupted[/]: finished cells are in {store}; run again to resume")
            raise typer.Exit(130) from None
        progress.update(task, completed=len(cells))
    table = report.latest_records(store, hashes=[c.hash for c in cells])
    _print_summary(table)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.statuses.items())) or "nothing new"
    console.print(f"run {outcome.run_id}: ran {outcome.ran} ({counts}), reused {outcome.reused} finished cells")
    if strict and any(s in outcome.statuses for s in ("error", "timeout", "oom", "diverged")):
        raise typer.Exit(1)


def _interrupt_on_signals() -> None:
    """SIGINT and SIGTERM stop a run cleanly (workers killed, finished cells kept). Installed
    explicitly: a shell starts background jobs with SIGINT ignored, and CI cancels with SIGTERM."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


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
    format: str = typer.Option("md", "--format", help="md, latex, html (tables and figures), csv (long) or summary (per cell)"),
    out: Optional[Path] = typer.Option(None, help="write to this file instead of stdout (html: default report.html)"),
    suite: Optional[str] = typer.Option(None, help="only this suite"),
    problems: str = typer.Option("", help="only these problems"),
    methods: str = typer.Option("", help="only these methods"),
    tag: Optional[str] = typer.Option(None, help="only runs with this tag (latest record per cell within them)"),
    references: Optional[Path] = typer.Option(None, help="stored MCMC references for figures (default: beside the store)"),
) -> None:
    """Comparison tables (one per suite and task; mean ± sd over seeds, best in bold) from the latest
    record of each cell; `html` is a self-contained page with the tables and every figure."""
    from bench import report as reports
    from bench import tables
    from bench.store import Store

    if format not in REPORT_FORMATS:
        raise unknown("format", format, REPORT_FORMATS)
    Store(store).close()  # checks that the store exists and is readable
    table = reports.latest_records(store, suite=suite, problems=_names(problems), methods=_names(methods), tag=tag)
    if table.empty:
        raise BenchInputError(f"no records in {store} match the selection (suite, problems, methods, tag)")
    if format == "csv":
        text = reports.to_csv(table)
    elif format == "summary":
        text = reports.to_markdown(table)
    else:
        from bench import scale

        study, rest = scale.split_study(table)  # the scale study has a table of its own
        paper = tables.build_tables(rest, _problem_tasks(rest))
        if format == "md":
            text = "\n".join(filter(None, [tables.to_markdown(paper), scale.to_markdown(scale.study_rows(study))]))
        elif format == "latex":
            text = tables.to_latex(paper)
        else:
            from bench import html_report

            text = html_report.page(store, table, paper, references or store.parent / "references")
            out = out or Path("report.html")
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")


def _problem_tasks(table) -> dict[str, str]:
    import suites

    return {name: suites.get_problem(name).task for name in table["problem"].unique()}


@app.command("plot")
def plot_command(
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    kind: str = typer.Option("all", help="all, or comma-separated: elbo, cost, time, densities, surfaces, auc, scale"),
    out: Path = typer.Option(Path("results/figures"), help="folder for the figures"),
    format: str = typer.Option("png", "--format", help="png, pdf or both"),
    suite: Optional[str] = typer.Option(None, help="only this suite"),
    problems: str = typer.Option("", help="only these problems"),
    methods: str = typer.Option("", help="only these methods"),
    tag: Optional[str] = typer.Option(None, help="only runs with this tag"),
    references: Optional[Path] = typer.Option(None, help="stored MCMC references (default: beside the store)"),
) -> None:
    """Figures for the selection: ELBO traces, accuracy against cost, time to accuracy, toy densities
    over the exact reference, network surfaces beside the reference, per-draw AUCs."""
    from bench import report as reports
    from bench.store import Store

    formats = {"png": ("png",), "pdf": ("pdf",), "both": ("png", "pdf")}
    if format not in formats:
        raise unknown("figure format", format, formats)
    from bench import plots

    kinds = plots.KINDS if kind == "all" else _names(kind)
    for name in kinds:
        if name not in plots.KINDS:
            raise unknown("plot kind", name, ("all", *plots.KINDS))
    Store(store).close()
    table = reports.latest_records(store, suite=suite, problems=_names(problems), methods=_names(methods), tag=tag)
    if table.empty:
        raise BenchInputError(f"no records in {store} match the selection (suite, problems, methods, tag)")
    import matplotlib.pyplot as plt

    figures = plots.make_figures(store, table, kinds, references or store.parent / "references")
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        for extension in formats[format]:
            figure.savefig(out / f"{name}.{extension}", dpi=130)
        plt.close(figure)
        console.print(f"wrote {out / name}.{'/'.join(formats[format])}")
    if not figures:
        console.print("[yellow]nothing to plot for this selection[/] (no ok records with the data these kinds need)")


@app.command("export")
def export_command(
    out: Path = typer.Option(..., help="folder to write one file per table into"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    format: str = typer.Option("csv", "--format", help="csv or parquet"),
) -> None:
    """Every table of the store (and the tidy join) as CSV or Parquet files."""
    import importlib.util

    from bench.store import TABLES, Store, load

    if format not in ("csv", "parquet"):
        raise unknown("format", format, ("csv", "parquet"))
    if format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise BenchInputError("parquet export needs pyarrow: pip install 'bench[parquet]'")
    Store(store).close()
    out.mkdir(parents=True, exist_ok=True)
    for table in ("tidy", *TABLES):
        frame = load(store, table)
        path = out / f"{table}.{format}"
        frame.to_csv(path, index=False) if format == "csv" else frame.to_parquet(path, index=False)
        console.print(f"wrote {path} ({len(frame)} rows)")


@app.command("compare")
def compare_command(
    baseline: str = typer.Argument(..., help="a store file, or in --store: a run id, a tag, latest or previous"),
    current: str = typer.Argument(..., help="the same kinds as BASELINE"),
    store: Path = typer.Option(DEFAULT_STORE, help="store holding run ids and tags"),
    alpha: float = typer.Option(0.05, help="significance level of the Mann-Whitney U test"),
    min_effect_time: float = typer.Option(0.10, help="smallest relative change of a speed metric that counts"),
    min_effect_quality: float = typer.Option(0.05, help="smallest relative change of a quality metric that counts"),
    out: Optional[Path] = typer.Option(None, help="also write the full comparison as CSV"),
) -> None:
    """Regression gate: exit 1 if any cell regressed (significant and large enough), 0 if not."""
    from bench import compare

    for name, value in (("alpha", alpha), ("min-effect-time", min_effect_time), ("min-effect-quality", min_effect_quality)):
        if not 0 < value < 1:
            raise BenchInputError(f"--{name} must lie between 0 and 1, got {value}")
    base, cur = compare.load_side(baseline, store), compare.load_side(current, store)
    table = compare.compare(base, cur, compare.Thresholds(alpha, min_effect_time, min_effect_quality))
    console.print(f"baseline: {base.label}\ncurrent:  {cur.label}")
    if table.empty:
        console.print("[yellow]no cell is present on both sides[/]")
    shown = table[table["verdict"] != "unchanged"]
    out_table = Table("problem", "method", "device", "metric", "verdict", "baseline", "current", "change", "p", "n",
                      title=f"changes ({len(table) - len(shown)} unchanged not shown)")  # fmt: skip
    from bench.report import fmt

    for _, row in shown.sort_values(["verdict", "problem", "method"]).iterrows():
        style = {"regression": "red", "improvement": "green", "not comparable": "cyan"}.get(row["verdict"], "yellow")
        change = "" if row["verdict"] == "not comparable" else f"{row['change']:+.1%}"
        out_table.add_row(
            row["problem"], row["method"], row["device"], row["metric"], f"[{style}]{row['verdict']}[/]",
            fmt(row.get("baseline")), fmt(row.get("current")), change, fmt(row.get("p_value")), str(row.get("n") or ""),
        )  # fmt: skip
    console.print(out_table)
    for label, keys in (("only in baseline", compare.only_in(base, cur)), ("only in current", compare.only_in(cur, base))):
        for key in keys:
            console.print(f"  {label}: {' '.join(map(str, key))}")
    counts = table["verdict"].value_counts().to_dict()
    console.print(", ".join(f"{counts.get(v, 0)} {v}" for v in compare.VERDICTS))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    if counts.get("regression", 0):
        raise typer.Exit(1)


@app.command("history")
def history_command(
    problem: str = typer.Option(..., help="problem name"),
    method: str = typer.Option(..., help="method label, e.g. numpyro.svi:auto_normal"),
    metric: str = typer.Option("run_s", help="run_s, steps_per_s, compile_s or a quality metric"),
    device: str = typer.Option("cpu", help="cpu or gpu"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    plot: Optional[Path] = typer.Option(None, help="write a trend plot (PNG or PDF) here"),
) -> None:
    """A metric of one cell over time, per machine, with change points marked."""
    from bench import history
    from bench.report import fmt
    from bench.store import Store

    Store(store).close()
    table = history.history(store, problem, method, metric, device)
    out = Table("run", "machine", metric, "n", "change", "change point", title=f"{problem} {method} {device}")
    for _, row in table.iterrows():
        change = "" if row["change"] != row["change"] else f"{row['change']:+.1%}"
        out.add_row(row["run_id"], row["machine"], fmt(row["median"]), str(row["n"]), change,
                    "[red]yes[/]" if row["change_point"] else "")  # fmt: skip
    console.print(out)
    if plot is not None:
        history.plot(table, f"{problem} {method} ({device})", metric, plot)
        console.print(f"wrote {plot}")


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


from bench.cli_reference import reference_app  # noqa: E402  (the sub-app imports nothing heavy)

app.add_typer(reference_app, name="reference")

from bench.cli_scale import scale_command  # noqa: E402  (imports nothing heavy either)

app.command("scale")(scale_command)


def main() -> None:
    try:
        app()
    except BenchInputError as exc:
        from rich.markup import escape  # messages name pip extras, 'bench[gpu]', which are not markup

        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
