"""The `bench` command line (typer + rich). Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import dataclasses
import inspect
import json
import shlex
import sys
from pathlib import Path
from time import perf_counter
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bench.store import paths
from bench.cli.errors import BenchGroup
from bench.cli.selection import parse_names
from bench.scoring.metrics import SUMMARY_KEEP_ORDER  # summary columns a narrow terminal drops, last first
from bench.spec.errors import BenchInputError, unknown

DEFAULT_STORE = paths.DEFAULT_STORE
REPORT_FORMATS = ("md", "latex", "html", "csv", "summary")
STATUS_STYLE = {"ok": "green", "diverged": "yellow", "unsupported": "cyan", "skipped": "dim"}

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    cls=BenchGroup,
    help="Benchmark Bayesian inference across backends.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(width=None if sys.stdout.isatty() else 200)  # logs and CI get the whole table


def _warn(line: str | None) -> None:
    if line:
        sys.stderr.write(line + "\n")


def _known_problems() -> list[str]:
    import suites

    return suites.problem_names()


def _known_methods() -> list[str]:
    import backends

    return list(backends.registry())


# The selection report and plot share: one definition of each option, and of what it selects.
StoreOption = Annotated[Path, typer.Option(help="SQLite store")]
SuiteFilter = Annotated[Optional[str], typer.Option(help="only this suite")]
ProblemsFilter = Annotated[str, typer.Option(help="only these problems")]
MethodsFilter = Annotated[str, typer.Option(help="only these methods")]


def _selected_records(store: Path, suite: str | None, problems: str, methods: str, tag: str | None):
    """The latest record of each selected cell, each name checked against the registries and the
    store; a selection that matches nothing is bad input."""
    from bench.reporting import report as reports
    from bench.cli.selection import check_filters
    from bench.store import Store

    Store(store).close()  # checks that the store exists and is readable
    chosen = {
        "problems": parse_names(problems, "--problems", _known_problems),
        "methods": parse_names(methods, "--methods", _known_methods),
    }
    check_filters(store, suite, **chosen)
    table = reports.latest_records(store, suite=suite, **chosen, tag=tag)
    if table.empty:
        raise BenchInputError(f"no records in {store} match the selection (suite, problems, methods, tag)")
    return table


def _print_version(value: bool) -> None:
    if value:
        from bench import __version__

        sys.stdout.write(f"bench {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Benchmark Bayesian inference across backends."""


@app.command("list")
def list_command(
    what: str = typer.Argument("all", help="suites, problems, methods, all, or runs (the runs of --store)"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store (`bench list runs`)"),
) -> None:
    """List suites, problems and methods, or the runs of a store."""
    choices = ("suites", "problems", "methods", "all", "runs")
    if what not in choices:
        raise unknown("listing", what, choices)
    if what == "runs":
        _list_runs(store)
        return
    import backends
    import suites

    if what in ("suites", "all"):
        table = Table("suite", "problems", "default methods", title="suites")
        for suite in suites.suite_names():
            table.add_row(suite, ", ".join(suites.problem_names(suite)), ", ".join(suites.default_methods(suite)))
        console.print(table)
    if what in ("problems", "all"):
        table = Table("problem", "suite", "task", "latents", "origin", "description", title="problems")
        origins = suites.origins()
        for name in suites.problem_names():
            problem = suites.declaration(name)  # a model problem is not built to be listed
            latents = (
                str(sum(lat.size for lat in problem.latents))
                if hasattr(problem, "latents")
                else f"({problem.kind} model)"
            )
            table.add_row(
                name, problem.suite, problem.task, latents, origins.get(name, "built in"), problem.description
            )
        console.print(table)
    if what in ("methods", "all"):
        table = Table("method", "variants", "kind", "installed", "pip extra", "origin", title="methods")
        origins = backends.origins()
        for method in backends.registry().values():
            missing = method.missing()
            installed = "yes" if not missing else f"no ({', '.join(missing)})"
            table.add_row(
                method.name,
                ", ".join(method.known_variants),
                method.kind,
                installed,
                method.extra,
                origins[method.name],
            )
        console.print(table)


def _list_runs(store: Path) -> None:
    """The store's runs, oldest first: tag, start and end, protocol(s), cells written and reused."""
    from bench.store import Store, run_summaries

    Store(store).close()  # exists and is a readable store
    runs = run_summaries(store)
    table = Table("run", "tag", "started", "finished", "protocol", "cells", "ran", "reused", title=f"runs in {store}")
    for row in runs.itertuples():
        protocols = ", ".join(p for p in str(row.protocols or "").split(",") if p) or "not recorded"
        table.add_row(
            row.run_id,
            row.tag or "",
            row.started_at,
            row.finished_at or "[yellow]never finished[/]",
            protocols,
            str(int(row.ran) + int(row.reused)),
            str(int(row.ran)),
            str(int(row.reused)),
        )
    console.print(table)
    if runs.empty:
        console.print("[yellow]no runs with records[/]")


def run(
    suite: Optional[str] = typer.Option(
        None, help="suite to run (see `bench list suites`); or declare the grid in --config"
    ),
    problems: str = typer.Option("", help="comma-separated problems of the suite (default: all)"),
    methods: str = typer.Option("", help="comma-separated methods, optionally method:variant (default: the suite's)"),
    set_: list[str] = typer.Option([], "--set", help="override a method setting: name=value (repeatable)"),
    config: Optional[Path] = typer.Option(
        None, help="a TOML file declaring the grid and run options; flags override it"
    ),
    wide: bool = typer.Option(False, "--wide", help="the summary with every column, whatever the terminal width"),
    **flags,
) -> None:
    """Run a suite's grid of cells (or the grid a --config file declares) and store every record."""
    from bench.execution import grid_config
    from bench.execution.options import RunOptions
    from bench.execution.plan import parse_overrides, plan_blocks

    file = grid_config.load(config) if config is not None else None
    if file is None and suite is None:
        raise BenchInputError("bench run needs --suite (see `bench list suites`) or --config grid.toml")
    options = RunOptions.merged(flags, file.options if file else {})
    if options.posteriordb is not None:
        import suites

        suites.use_posteriordb(options.posteriordb)  # the workers read the clone through the environment
    overrides = parse_overrides(set_)
    if suite is not None or file is None:  # the command line names the grid: it replaces the file's
        import suites

        suites.problem_names(suite or "")  # an unknown suite first: the lists below name its problems
        chosen = parse_names(problems, "--problems", lambda: suites.problem_names(suite or ""))
        blocks = [
            grid_config.GridBlock(
                suite or "", tuple(chosen), tuple(parse_names(methods, "--methods", _known_methods)), overrides
            )
        ]
    else:
        blocks = [dataclasses.replace(b, overrides={**b.overrides, **overrides}) for b in file.blocks]
    cells = plan_blocks(
        blocks,
        options,
        explicit_seeds=flags["seeds"],
        explicit_repeats=flags["repeats"],
        explicit_protocol=flags["protocol"],
    )
    _execute_and_summarise(cells, options, wide, label=suite or str(config))


def _with_run_options(command):
    """`command`'s signature with one command-line option per RunOptions field in place of its
    `**flags` (typer reads the signature), so the options are declared once."""
    from bench.execution import options

    signature = inspect.signature(command)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    generated = []
    for f in options.fields():
        switch, metavar = f.metadata["switch"], f.metadata["metavar"]
        declared = typer.Option(
            None, *([switch] if switch else []), help=f.metadata["help"], metavar=metavar, show_default=False
        )
        annotation = Optional[options.value_type(f.name)]
        generated.append(
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=declared, annotation=annotation)
        )
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in fixed]
    fixed, wide = [p for p in keyword if p.name != "wide"], [p for p in keyword if p.name == "wide"]
    command.__signature__ = signature.replace(parameters=[*fixed, *generated, *wide])
    return command


app.command()(_with_run_options(run))


def _execute_and_summarise(cells: list, options, wide: bool, label: str) -> None:
    from bench.execution import driver
    from bench.reporting import report
    from bench.runtime import threads as thread_policy
    from bench.execution.executors import LocalExecutor
    from bench.execution.phases import measured_work, summary_line
    from bench.cli.selection import check_writable_store
    from bench.store import check_readable

    store, tag, jobs, timeout = options.store, options.tag, options.jobs, options.timeout
    device = cells[0].device if cells else options.device
    dtype = cells[0].dtype if cells else "float32"
    check_readable(store)
    check_writable_store(store)
    cache = options.cache_dir
    threads = options.threads
    env_extra = {
        "jax_compilation_cache": str(cache / "jax") if cache else None,  # the key older records carry
        "thread_policy": {"threads": threads, **thread_policy.environment(threads)},
    }
    if options.executor == "dask":
        from bench.execution.dask_executor import DaskExecutor

        # connects (or starts a LocalCluster) before the store opens: an unreachable scheduler writes nothing
        pool = DaskExecutor(options.scheduler, jobs, timeout, cache, env_extra, gpu=device == "gpu")
    else:
        pool = LocalExecutor(jobs=jobs, timeout=timeout, cache_dir=cache)
    console.print(f"[bold]{len(cells)} cells[/] ({label}, {device}, {dtype}) -> {store}")
    running: dict[str, None] = {}  # cell keys in flight, in start order
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("starting", total=len(cells))

        def describe() -> str:
            keys = list(running)
            if not keys:
                return "waiting"
            more = f" (+{len(keys) - 1} more)" if len(keys) > 1 else ""
            return f"running {keys[0].split('/', 1)[-1]}{more}"

        def on_start(cell) -> None:
            running[cell.key] = None
            progress.update(task, description=describe())

        work, started = [0.0], perf_counter()

        def on_record(record) -> None:
            running.pop(record.key, None)
            work[0] += measured_work(record)
            style = STATUS_STYLE.get(record.status, "red")
            progress.console.print(f"  [{style}]{record.status:<11}[/] {record.key}  {record.wall_s:.1f}s")
            if options.save_draws:
                from bench.reporting import draws_export

                saved = draws_export.save_record(record, paths.draws_beside(store))
                if saved is not None:
                    progress.console.print(f"  [dim]draws -> {saved}[/]")
            progress.update(task, description=describe())
            progress.advance(task)

        pool.on_start = on_start

        from bench.execution.lifecycle import interrupt_on_signals

        interrupt_on_signals()
        try:
            outcome = driver.execute(
                cells,
                store,
                pool,
                force=options.force,
                tag=tag,
                command=shlex.join(["bench", *sys.argv[1:]]),
                env_extra=env_extra,
                on_record=on_record,
            )
        except KeyboardInterrupt:
            progress.stop()
            console.print(f"[yellow]interrupted[/]: finished cells are in {store}; run again to resume")
            raise typer.Exit(130) from None
        finally:
            if options.executor == "dask":
                pool.close()
        progress.update(task, completed=len(cells))
    table = report.latest_records(store, hashes=[c.hash for c in cells])
    _print_summary(table, wide)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.statuses.items())) or "nothing new"
    kept = "" if outcome.recorded else " (nothing changed: no run recorded)"
    console.print(f"run {outcome.run_id}: ran {outcome.ran} ({counts}), reused {outcome.reused} finished cells{kept}")
    console.print(summary_line(work[0], perf_counter() - started))
    for other, n in outcome.elsewhere.items():
        console.print(
            f"[yellow]left {n} cells to run {other}[/], which is running them now (their records appear there)"
        )
    if options.strict and any(s in outcome.statuses for s in ("error", "timeout", "oom", "diverged")):
        raise typer.Exit(1)


def fit_columns(headers: list[str], rows: list[list[str]], width: int) -> list[int]:
    """Indices of the columns to show so that the table fits `width`: identity, status and reason
    always stay; metric columns leave in reverse order of SUMMARY_KEEP_ORDER."""

    def column_width(i: int) -> int:
        cells = [headers[i]] + [row[i] for row in rows]
        limit = 40 if headers[i] == "reason" else 10**6  # the reason folds onto more lines
        return min(limit, max(len(c) for c in cells)) + 3

    keep = list(range(len(headers)))
    droppable = sorted(
        (i for i, h in enumerate(headers) if h in SUMMARY_KEEP_ORDER),
        key=lambda i: SUMMARY_KEEP_ORDER.index(headers[i]),
    )
    while sum(column_width(i) for i in keep) + 1 > width and droppable:
        keep.remove(droppable.pop())
    return keep


def _print_summary(table, wide: bool = False) -> None:
    from bench.reporting.report import summary_rows

    headers, rows = summary_rows(table)
    shown = list(range(len(headers))) if wide else fit_columns(headers, rows, console.width)
    out = Table(title="summary")
    for i in shown:
        header = headers[i]
        out.add_column(header, overflow="fold" if header == "reason" else "ellipsis", no_wrap=header != "reason")
    status_index = headers.index("status")
    for row in rows:
        style = STATUS_STYLE.get(row[status_index], "red")
        out.add_row(*(row[i] for i in shown), style=None if style == "green" else style)
    console.print(out)
    hidden = [headers[i] for i in range(len(headers)) if i not in shown]
    if hidden:
        console.print(
            f"[dim]{len(hidden)} columns hidden to fit {console.width} columns ({', '.join(hidden)}): "
            "--wide shows all, `bench report --format summary` prints them[/]"
        )


@app.command()
def report(
    store: StoreOption = DEFAULT_STORE,
    format: str = typer.Option(
        "md",
        "--format",
        metavar="[" + "|".join(REPORT_FORMATS) + "]",
        help="md, latex, html (tables and figures), csv (long) or summary (per cell)",
    ),
    out: Optional[Path] = typer.Option(
        None, help=f"write to this file instead of stdout (html: default {paths.REPORTS_DIR}/report.html)"
    ),
    suite: SuiteFilter = None,
    problems: ProblemsFilter = "",
    methods: MethodsFilter = "",
    tag: Optional[str] = typer.Option(None, help="only runs with this tag (latest record per cell within them)"),
    references: Optional[Path] = typer.Option(
        None, help="stored MCMC references for figures (default: beside the store)"
    ),
    columns: str = typer.Option(
        "", help="latex: only these metric columns, comma-separated (e.g. elbo,std_mean_err_max,run_s)"
    ),
    landscape: bool = typer.Option(False, "--landscape", help="latex: sideways tables (needs the rotating package)"),
) -> None:
    """Comparison tables (one per suite and task; mean ± sd over seeds, best in bold) from the latest
    record of each cell; `html` is a self-contained page with the tables and every figure."""
    from bench.execution import lifecycle
    from bench.reporting import tables
    from bench.reporting import report as reports
    from bench.cli.selection import check_out_file

    if format not in REPORT_FORMATS:
        raise unknown("format", format, REPORT_FORMATS)
    for name in parse_names(columns, "--columns", tables.latex_columns_known):
        if name not in tables.latex_columns_known():
            raise unknown("column", name, tables.latex_columns_known())
    if out is not None or format == "html":
        check_out_file(out or paths.REPORTS_DIR / "report.html")
    table = _selected_records(store, suite, problems, methods, tag)
    _warn(lifecycle.incomplete_warning(store, lifecycle.incomplete_runs(store, list(table["run_id"]))))
    if format == "csv":
        text = reports.to_csv(table)
    elif format == "summary":
        text = reports.to_markdown(table)
    else:
        from bench.studies import scale

        study, rest = scale.split_study(table)  # the scale study has a table of its own
        tasks = _problem_tasks(rest)  # warns once about problems no longer registered
        paper = tables.build_tables(rest, tasks)
        if format == "md":
            from bench.reporting import accuracy_table

            costs = accuracy_table.to_markdown(accuracy_table.build(rest, tasks))
            text = "\n".join(
                filter(None, [tables.to_markdown(paper), costs, scale.to_markdown(scale.study_rows(study))])
            )
        elif format == "latex":
            text = tables.to_latex(paper, columns=parse_names(columns, "--columns") or None, landscape=landscape)
        else:
            from bench.reporting import html as html_report

            figured = table[~table["problem"].isin(_unregistered(table))]  # figures need the problem's definition
            text = html_report.page(store, figured, paper, references or store.parent / "references")
            out = out or paths.REPORTS_DIR / "report.html"
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")


def _unregistered(table) -> list[str]:
    """Problems of the selection's records that are no longer registered (a removed problem file, an
    uninstalled plugin, a posteriordb clone not named this time)."""
    import suites

    known = set(suites.problem_names())
    return sorted(n for n in table["problem"].unique() if n not in known and suites.scale_family().parse(n) is None)


def _problem_tasks(table) -> dict[str, str]:
    """Each problem's task; a problem no longer registered is shown with the density columns, one warning."""
    import suites

    missing = _unregistered(table)
    if missing:
        console.print(
            f"[yellow]warning[/]: {len(missing)} problem(s) no longer registered, shown with the density "
            f"columns: {', '.join(missing)}",
            highlight=False,
        )
    return {name: "density" if name in missing else suites.get_problem(name).task for name in table["problem"].unique()}


@app.command("plot")
def plot_command(
    store: StoreOption = DEFAULT_STORE,
    kind: str = typer.Option(
        "all",
        metavar="[all|KIND,KIND..]",
        help="all, or comma-separated: elbo, cost, time, accuracy, densities, surfaces, auc, scale",
    ),
    out: Path = typer.Option(paths.FIGURES_DIR, help="folder for the figures"),
    format: str = typer.Option("png", "--format", metavar="[png|pdf|both]", help="png, pdf or both"),
    suite: SuiteFilter = None,
    problems: ProblemsFilter = "",
    methods: MethodsFilter = "",
    tag: Optional[str] = typer.Option(None, help="only runs with this tag"),
    references: Optional[Path] = typer.Option(None, help="stored MCMC references (default: beside the store)"),
) -> None:
    """Figures for the selection: ELBO traces, accuracy against cost, time to accuracy, toy densities
    over the exact reference, network surfaces beside the reference, per-draw AUCs."""
    formats = {"png": ("png",), "pdf": ("pdf",), "both": ("png", "pdf")}
    if format not in formats:
        raise unknown("figure format", format, formats)
    from bench.reporting import plots

    kinds = plots.KINDS if kind == "all" else parse_names(kind, "--kind", lambda: ("all", *plots.KINDS))
    for name in kinds:
        if name not in plots.KINDS:
            raise unknown("plot kind", name, ("all", *plots.KINDS))
    from bench.cli.selection import check_out_dir

    check_out_dir(out)
    table = _selected_records(store, suite, problems, methods, tag)
    import matplotlib.pyplot as plt

    missing = _unregistered(table)
    if missing:  # their figures need the problem's definition: skipped, one warning
        console.print(
            f"[yellow]warning[/]: skipped the records of {len(missing)} problem(s) no longer registered: "
            f"{', '.join(missing)}",
            highlight=False,
        )
        table = table[~table["problem"].isin(missing)]
    from bench.reporting.report import label_by_settings

    table = label_by_settings(table)  # one method run with two settings: two labelled series, never one
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
    out: Path = typer.Option(..., help="csv, parquet: a folder (one file per table); dashboard formats: a JSON file"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    format: str = typer.Option(
        "csv",
        "--format",
        metavar="[csv|parquet|github-action-benchmark|bencher]",
        help="csv, parquet, github-action-benchmark or bencher",
    ),
    run: str = typer.Option("latest", help="dashboard formats: the run exported (run id, tag, latest or previous)"),
) -> None:
    """Every table of the store (and the tidy join) as CSV or Parquet files, or one run's metrics as
    github-action-benchmark or Bencher (BMF) JSON."""
    import importlib.util

    from bench.regression import dashboards
    from bench.cli.selection import check_out_dir, check_out_file
    from bench.store import TABLES, Store, load

    formats = ("csv", "parquet", *dashboards.FORMATS)
    if format not in formats:
        raise unknown("format", format, formats)
    if format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise BenchInputError("parquet export needs pyarrow: pip install 'bench[parquet]'")
    if format in dashboards.FORMATS:
        check_out_file(out)
        Store(store).close()
        from bench.regression import sides as compare

        for path in dashboards.write(compare.load_side(run, store), format, out):
            console.print(f"wrote {path}")
        return
    check_out_dir(out)
    Store(store).close()  # a missing, foreign or corrupt store is refused before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    for table in ("tidy", *TABLES):
        frame = load(store, table)
        if table == "arrays" and format == "csv":  # raw float32 bytes as base64 text: decodable, not b'...'
            import base64

            frame["data"] = [base64.b64encode(blob).decode("ascii") for blob in frame["data"]]
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
    k_se: float = typer.Option(
        3.0, "--k-se", help="a quality change must also exceed this many combined standard errors"
    ),
    confirm: bool = typer.Option(
        False, "--confirm", help="re-measure flagged cells for both code versions, alternating"
    ),
    rounds: int = typer.Option(5, help="--confirm: alternating rounds per version (the best repeat of each is kept)"),
    out: Optional[Path] = typer.Option(
        None, help="also write the comparison (csv) or the current side (dashboard formats)"
    ),
    format: str = typer.Option("csv", "--format", help="--out format: csv, github-action-benchmark or bencher"),
) -> None:
    """Regression gate: exit 1 if any cell regressed (significant and large enough); else exit 3 if
    a cell ran with different settings on the two sides ("not comparable": a configuration error,
    no verdict is given across settings); else 0."""
    from bench.regression import sides as compare
    from bench.regression import dashboards
    from bench.execution import lifecycle
    from bench.cli.selection import check_out_file

    for name, value in (
        ("alpha", alpha),
        ("min-effect-time", min_effect_time),
        ("min-effect-quality", min_effect_quality),
    ):
        if not 0 < value < 1:
            raise BenchInputError(f"--{name} must lie between 0 and 1, got {value}")
    if k_se <= 0 or rounds < 2:
        raise BenchInputError(f"--k-se must be positive and --rounds at least 2, got {k_se} and {rounds}")
    if format not in ("csv", *dashboards.FORMATS):
        raise unknown("format", format, ("csv", *dashboards.FORMATS))
    if out is not None:
        check_out_file(out)
    base, cur = compare.load_side(baseline, store), compare.load_side(current, store)
    unfinished: dict[Path, dict[str, None]] = {}  # store -> its incomplete runs either side reads, in order
    for spec in (baseline, current):
        is_file = Path(spec).suffix in (".sqlite", ".db") or Path(spec).is_file()
        path = Path(spec) if is_file else store
        unfinished.setdefault(path, {}).update(
            dict.fromkeys(lifecycle.incomplete_runs(path, spec=None if is_file else spec))
        )
    for path, runs in unfinished.items():
        _warn(lifecycle.incomplete_warning(path, list(runs)))
    thresholds = compare.Thresholds(alpha, min_effect_time, min_effect_quality, k_se=k_se)
    from bench.regression import gate

    table = gate.compare(base, cur, thresholds)
    console.print(f"baseline: {base.label}\ncurrent:  {cur.label}")
    if confirm:
        from bench.regression import confirm as confirming

        table = confirming.confirm(table, base, cur, thresholds, rounds, log=console.print)
    if table.empty:
        console.print("[yellow]no cell is present on both sides[/]")
    shown = table[table["verdict"] != "unchanged"]
    labels = compare.settings_labels(table)  # the settings telling apart two cells of one method, where any do
    out_table = Table(
        "problem",
        "method",
        *(["settings"] if any(labels.values()) else []),
        "device",
        "metric",
        "verdict",
        "baseline",
        "current",
        "change",
        "p",
        "n",
        title=f"changes ({len(table) - len(shown)} unchanged not shown)",
    )
    from bench.reporting.report import fmt

    for index, row in shown.sort_values(["verdict", "problem", "method"]).iterrows():
        style = {"regression": "red", "improvement": "green", "not comparable": "cyan", "noisy": "magenta"}.get(
            row["verdict"], "yellow"
        )
        change = "" if row["verdict"] == "not comparable" or row["change"] != row["change"] else f"{row['change']:+.1%}"
        out_table.add_row(
            row["problem"],
            row["method"],
            *([labels[index]] if any(labels.values()) else []),
            row["device"],
            row["metric"],
            f"[{style}]{row['verdict']}[/]",
            fmt(row.get("baseline")),
            fmt(row.get("current")),
            change,
            fmt(row.get("p_value")),
            fmt(row.get("n")),
        )
    console.print(out_table)
    for _, row in shown.sort_values(["verdict", "problem", "method"]).iterrows():
        if row.get("note"):
            console.print(
                f"  {row['verdict']}: {row['problem']} {row['method']} {row['metric']}: {row['note']}", highlight=False
            )
    for label, keys in (
        ("only in baseline", compare.only_in(base, cur)),
        ("only in current", compare.only_in(cur, base)),
    ):
        for key in keys:
            console.print(f"  {label}: {' '.join(map(str, key))}")
    counts = table["verdict"].value_counts().to_dict()
    console.print(", ".join(f"{counts.get(v, 0)} {v}" for v in compare.VERDICTS))
    across = table["note"].fillna("").str.startswith(compare.SETTINGS_DIFFER)
    if across.any():
        console.print(
            f"[cyan]{int(across.sum())} cell(s) not comparable: the two sides ran them with different settings[/] "
            "(no verdict across settings; compare runs of the same settings, or re-run one side)"
        )
    if counts.get("noisy", 0) and not confirm:
        console.print("noisy cells are not regressions; `--confirm` re-measures them for both code versions")
    if out is not None and format == "csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    elif out is not None:
        dashboards.write(cur, format, out)
    if counts.get("regression", 0):
        raise typer.Exit(1)
    if across.any():
        raise typer.Exit(compare.EXIT_NOT_COMPARABLE)


@app.command("history")
def history_command(
    problem: str = typer.Option(..., help="problem name"),
    method: str = typer.Option(..., help="method label, e.g. numpyro.svi:auto_normal"),
    metric: str = typer.Option("run_s", help="run_s, steps_per_s, compile_s or a quality metric"),
    device: str = typer.Option("cpu", metavar="[cpu|gpu]", help="cpu or gpu"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
    plot: Optional[Path] = typer.Option(None, help="write a trend plot (PNG or PDF) here"),
) -> None:
    """A metric of one cell over time, per machine, with change points marked; a run whose cell ran
    with other settings than the run before it is "not comparable" (no change is computed) and the
    command exits 3."""
    from bench.regression import history
    from bench.execution.plan import DEVICES
    from bench.reporting.report import fmt
    from bench.cli.selection import check_filters, check_out_file
    from bench.store import Store

    if device not in DEVICES:
        raise unknown("device", device, DEVICES)
    if plot is not None:
        check_out_file(plot, "--plot")
    Store(store).close()
    check_filters(store, problems=[problem], methods=[method])
    table = history.history(store, problem, method, metric, device)
    out = Table("run", "machine", metric, "n", "change", "change point", title=f"{problem} {method} {device}")
    for _, row in table.iterrows():
        change = "" if row["change"] != row["change"] else f"{row['change']:+.1%}"
        if row["not_comparable"]:
            change = "[cyan]not comparable[/]"
        out.add_row(
            row["run_id"],
            row["machine"],
            fmt(row["median"]),
            str(row["n"]),
            change,
            "[red]yes[/]" if row["change_point"] else "",
        )
    console.print(out)
    for _, row in table[table["not_comparable"] != ""].iterrows():
        console.print(f"  not comparable: run {row['run_id']}: {row['not_comparable']}", highlight=False)
    if plot is not None:
        history.plot(table, f"{problem} {method} ({device})", metric, plot)
        console.print(f"wrote {plot}")
    if (table["not_comparable"] != "").any():
        from bench.regression.sides import EXIT_NOT_COMPARABLE

        raise typer.Exit(EXIT_NOT_COMPARABLE)


@app.command("draws")
def draws_command(
    cell_key: str = typer.Argument(
        ..., help="the cell's key, as `bench report --format summary` and the run log print it"
    ),
    out: Path = typer.Option(..., help="netCDF file to write (opens with az.from_netcdf)"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite store"),
) -> None:
    """Any stored cell's draws as ArviZ netCDF: chains kept for samplers, with their sample_stats."""
    from bench.reporting import draws_export
    from bench.store import Store

    if out.exists() and out.is_dir():
        raise BenchInputError(f"--out {out} is a folder; give a file name such as {out / 'draws.nc'}")
    Store(store).close()
    written = draws_export.export_cell(store, cell_key, out)
    console.print(f"wrote {written}")


@app.command()
def env(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The environment a run would record: versions, CPU, GPU, threads, code state."""
    from bench.runtime import environment

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


from bench.cli.reference import reference_app  # noqa: E402  (the sub-app imports nothing heavy)

app.add_typer(reference_app, name="reference")

from bench.cli.scale import scale_command  # noqa: E402  (imports nothing heavy either)

app.command("scale")(scale_command)


def main() -> None:
    app()  # BenchGroup.main turns bad input, usage errors and unusable stores into one line, exit 2


if __name__ == "__main__":
    main()
