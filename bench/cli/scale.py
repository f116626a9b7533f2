"""`bench scale`: the CPU x GPU crossover study (bench.studies.scale) from the command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from bench.spec.errors import BenchInputError, unknown

console = Console(width=None if sys.stdout.isatty() else 200)
FORMATS = {"png": ("png",), "pdf": ("pdf",), "both": ("png", "pdf")}


def scale_command(
    quick: bool = typer.Option(
        False,
        "--quick",
        help="N 1e3..1e6 (one size a decade), width 32, the three VI methods, 2 repeats: about 2 minutes of one core",
    ),
    devices: str = typer.Option("cpu,gpu", help="devices to measure; a GPU no framework sees is reported and skipped"),
    sizes: str = typer.Option("", help="training set sizes, e.g. 1e3,1e4 (default: 1e3..1e6 in half-decades)"),
    widths: str = typer.Option("", help="hidden widths, e.g. 4,32,256 (default)"),
    methods: str = typer.Option(
        "", help="methods (default: numpyro.svi:auto_normal, blackjax.meanfield_vi, torch.vi, numpyro.nuts on N <= 1e4)"
    ),
    nuts_max_n: Optional[float] = typer.Option(
        None, help="numpyro.nuts on the sizes up to this (default 1e4; 0: none)"
    ),
    steps: int = typer.Option(
        0, help="VI steps per timed run at every N (default: 200 up to N=1e4, then 2e6/N, at least 10)"
    ),
    repeats: int = typer.Option(0, help="warm timed repeats per cell (default 3; --quick 2)"),
    threads: int = typer.Option(
        1, help="threads per cell for every framework (OpenMP/BLAS, torch, XLA; default 1), at most the cores"
    ),
    store: Path = typer.Option(Path("results/bench.sqlite"), help="SQLite store"),
    out: Path = typer.Option(Path("results/figures"), help="folder for the figure"),
    format: str = typer.Option("png", "--format", help="png, pdf or both"),
    force: bool = typer.Option(False, help="re-run cells already finished with the same hash"),
    timeout: float = typer.Option(900.0, help="seconds before a cell is killed and recorded as timeout"),
    tag: str = typer.Option("scale", help="label stored with the runs"),
    compile_cache: bool = typer.Option(
        True, help="persistent compile caches beside the store, or in $BENCH_COMPILE_CACHE_DIR"
    ),
) -> None:
    """Time per step against data size N and width, per device and method; the crossover N where the
    GPU line crosses the CPU line. Results go to the store like any run; a table and a figure follow."""
    import suites
    from bench.execution import driver
    from bench.execution import plan
    from bench.reporting import report
    from bench.studies import scale

    from bench.runtime import threads as thread_policy
    from bench.execution.executors import LocalExecutor
    from bench.cli.selection import check_writable_store
    from bench.store import check_readable, paths

    family = suites.scale_family()
    names = [d.strip() for d in devices.split(",") if d.strip()]
    for name in names:
        if name not in scale.DEVICES:
            raise unknown("device", name, scale.DEVICES)
    if not names:
        raise BenchInputError("--devices needs at least one of cpu, gpu")
    if format not in FORMATS:
        raise unknown("figure format", format, FORMATS)
    plan.check_positive(timeout=timeout)
    thread_policy.check(threads, 1)
    if steps < 0 or repeats < 0 or (nuts_max_n is not None and nuts_max_n < 0):
        raise BenchInputError("--steps, --repeats and --nuts-max-n must be positive numbers")
    study = scale.with_options(
        scale.QUICK if quick else scale.FULL,
        sizes=scale.parse_sizes(sizes) if sizes else None,
        widths=scale.parse_widths(widths) if widths else None,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()) or None,
        steps=steps,
        repeats=repeats,
        nuts_max_n=None if nuts_max_n is None else int(nuts_max_n),
        threads=threads,
    )
    check_readable(store)
    check_writable_store(store)
    planned, missing = {}, ""
    for device in sorted(names, key=scale.DEVICES.index):  # the CPU first: names and numbers checked there
        try:
            planned[device] = scale.plan(study, device)
        except BenchInputError as exc:
            if device != "gpu" or len(names) == 1:
                raise
            missing = str(exc)
    console.print(f"[bold]{sum(map(len, planned.values()))} cells[/] (scale: {', '.join(planned)}) -> {store}")
    cache = paths.compile_cache_beside(store) if compile_cache else None
    hashes = [c.hash for cells in planned.values() for c in cells]
    env_extra = {
        "jax_compilation_cache": str(cache / "jax") if cache else None,  # the key older records carry
        "thread_policy": {"threads": threads, **thread_policy.environment(threads)},
    }
    command = shlex.join(["bench", *sys.argv[1:]])
    interrupted = False
    from bench.execution.lifecycle import interrupt_on_signals

    interrupt_on_signals()
    try:
        for device, n, batch in scale.batches(planned, study.sizes):
            pool = LocalExecutor(jobs=1, timeout=timeout, cache_dir=cache)
            outcome = driver.execute(
                batch, store, pool, force=force, tag=tag, command=command, on_record=_print_record, env_extra=env_extra
            )
            at = f"N={family.size_token(n)}" if n else "every N"
            console.print(
                f"run {outcome.run_id} ({at}, {device}): ran {outcome.ran}, reused {outcome.reused} finished cells"
            )
    except KeyboardInterrupt:
        interrupted = True
        console.print(
            f"[yellow]interrupted[/]: finished cells are in {store}; the table shows them; run again to resume"
        )
    if not store.exists():  # interrupted before the first record
        raise typer.Exit(130)
    rows = scale.study_rows(report.latest_records(store, hashes=hashes))
    print_study(rows)
    _save_figure(rows, out, FORMATS[format])
    if missing:
        from rich.markup import escape

        console.print(f"[yellow]the GPU half was not available[/]: {escape(missing)}", highlight=False)
    if interrupted:
        raise typer.Exit(130)


def _print_record(record) -> None:
    style = {"ok": "green", "unsupported": "cyan"}.get(record.status, "red")
    console.print(f"  [{style}]{record.status:<11}[/] {record.key}  {record.wall_s:.1f}s", highlight=False)


def print_study(rows) -> None:
    from bench.studies import scale

    headers, body = scale.time_table(rows)
    table = Table(*headers, title="milliseconds per step (NUTS: per gradient evaluation)")
    for row in body:
        table.add_row(*row)
    console.print(table)
    found = scale.crossovers(rows)
    for _, row in found.iterrows():
        console.print(
            f"  width {row['width']}, {row['method']}: {scale.describe_crossover(row)}; CPU/GPU time at "
            f"N={row['max_n']}: {row['speedup_at_max_n']:.3g}x",
            highlight=False,
        )


def _save_figure(rows, out: Path, extensions: tuple[str, ...]) -> None:
    import matplotlib.pyplot as plt

    from bench.reporting import plots_scale

    figures = plots_scale.figures(rows)
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        for extension in extensions:
            figure.savefig(out / f"{name}.{extension}", dpi=130)
        plt.close(figure)
        console.print(f"wrote {out / name}.{'/'.join(extensions)}")
