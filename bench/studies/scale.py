"""`bench scale`: where a GPU starts to pay. Time per step against data size and width, per device.

The study is a grid of ordinary cells over the scale suite's problems (`suites.scale`: two-moons
MLPs 2-w-1 at N training points), so keys, content hashes, resume and failure rows all apply: an
out-of-memory cell at the largest N is an `oom` row. Each cell records steady-state time per step
and per gradient evaluation, compile time and peak memory. The summary is a table of time per
step by N, one row per (width, method, device), and the crossover N per (width, method): where
the GPU line crosses the CPU line, interpolated in log-log between the two sizes that bracket it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

import suites

family = suites.scale_family()  # the parametric moons family: names, sizes, widths


VI_METHODS = ("numpyro.svi:auto_normal", "blackjax.meanfield_vi", "torch.vi")
NUTS = "numpyro.nuts"
# NUTS is measured per gradient evaluation: short chains, a capped tree (a deep tree at a large N
# is minutes of CPU for one cell, and the cost of one leapfrog step does not depend on the depth).
NUTS_SETTINGS = {"chains": "2", "warmup": "50", "draws": "50", "max_tree_depth": "5"}
# Draws scored on the (small) test set: a sanity check of each fit, not a result. Few, because the
# final draws are not free at a large N: blackjax's log q evaluates the full-data density once per
# draw, vmapped (100 draws at N = 1e5, width 32: 3.5 GB and 20 s; at 1e6 an OOM on a 24 GB machine).
from bench.scoring.fit_metrics import COST_ONLY_DRAWS as SCORE_DRAWS  # noqa: E402

DEVICES = ("cpu", "gpu")
# Steps per timed VI run by N (unless --steps fixes them): the timed run covers POINT_STEPS data
# points (about 0.1-5 s of CPU), between MIN_STEPS and family.steps steps. 200 steps of 1e6
# points would be minutes of CPU per repeat for one number; the loop is one compiled scan, so ten
# steps already give its steady-state cost per step (compile is timed apart, before the repeats).
POINT_STEPS = 2_000_000
MIN_STEPS = 10


@dataclass(frozen=True)
class Study:
    sizes: tuple[int, ...] = family.sizes
    widths: tuple[int, ...] = family.widths
    methods: tuple[str, ...] = VI_METHODS
    nuts_max_n: int = 10_000  # numpyro.nuts runs on the sizes up to this (0: not at all)
    steps: int = 0  # VI steps per timed run at every N; 0: by N (steps_at)
    repeats: int = 3
    draws: int = SCORE_DRAWS
    threads: int = 1  # per cell (bench.runtime.threads): a 16-core host's CPU cells may use its cores


FULL = Study()
# --quick: three decades of N (one size a decade), width 32, the three VI methods, two repeats: 12
# cells, about 2 minutes of one core here (each JAX cell costs 5-10 s of imports and XLA compiles
# whatever its N, so every width more is a minute more; the full study adds 4 and 256).
QUICK = Study(sizes=(1_000, 10_000, 100_000, 1_000_000), widths=(32,), nuts_max_n=0, repeats=2)


def steps_at(study: Study, n: int) -> int:
    """VI steps per timed run at N: the study's fixed count, else POINT_STEPS / N within bounds."""
    return study.steps or max(MIN_STEPS, min(family.steps, POINT_STEPS // n))


def parse_sizes(text: str) -> tuple[int, ...]:
    """'1e3,3e4' -> (1000, 30000); each a positive whole number, in the order given (the study runs
    them in that order, so a study with a deadline can put the sizes that matter most first)."""
    from bench.spec.errors import BenchInputError

    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            value = float(part)
        except ValueError:
            raise BenchInputError(
                f"--sizes takes comma-separated numbers of training points (e.g. 1e3,1e4), got {part!r}"
            ) from None
        if not value >= 1 or value != int(value):
            raise BenchInputError(f"--sizes must be positive whole numbers, got {part!r}")
        sizes.append(int(value))
    if not sizes:
        raise BenchInputError("--sizes needs at least one size, e.g. 1e3,1e4")
    return tuple(dict.fromkeys(sizes))


def parse_widths(text: str) -> tuple[int, ...]:
    from bench.spec.errors import BenchInputError

    try:
        widths = tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
    except ValueError:
        raise BenchInputError(
            f"--widths takes comma-separated positive integers (e.g. 4,32,256), got {text!r}"
        ) from None
    if not widths or min(widths) < 1:
        raise BenchInputError(f"--widths takes comma-separated positive integers (e.g. 4,32,256), got {text!r}")
    return widths


def plan(study: Study, device: str):
    """The study's cells on one device: the VI methods on every (N, width), NUTS on the small N."""
    from bench.execution.plan import Request, build_plan

    common = {
        "suite": "scale",
        "seeds": 1,
        "device": device,
        "repeats": study.repeats,
        "draws": study.draws,
        "threads": study.threads,
    }
    vi = [m for m in study.methods if m.split(":")[0] != NUTS]
    cells = []
    for n in study.sizes if vi else ():
        steps = {"steps": str(steps_at(study, n))}
        cells += build_plan(Request(problems=family.grid([n], study.widths), methods=vi, overrides=steps, **common))
    small = family.grid([n for n in study.sizes if n <= study.nuts_max_n], study.widths)
    if small and study.nuts_max_n:
        cells += build_plan(Request(problems=small, methods=[NUTS], overrides=NUTS_SETTINGS, **common))
    return sorted(cells, key=lambda c: (family.parse(c.problem), c.label))


def batches(planned: dict[str, list], sizes: Sequence[int]) -> list[tuple[str, int | None, list]]:
    """(device, N or None, cells) runs in order: with two devices, size by size, both devices at each
    size (a study cut short still compares them); with one, a single run in the order of `sizes`
    (one pool, so its zygotes import each framework once rather than once per size)."""
    order = {n: i for i, n in enumerate(sizes)}

    def by_size(cells):
        return sorted(cells, key=lambda c: order[family.parse(c.problem)[0]])  # stable: widths, labels kept

    if len(planned) == 1:
        ((device, cells),) = planned.items()
        return [(device, None, by_size(cells))] if cells else []
    out = []
    for n in sizes:
        for device, cells in planned.items():
            batch = [c for c in cells if family.parse(c.problem)[0] == n]
            if batch:
                out.append((device, n, batch))
    return out


# -- reading the study back ---------------------------------------------------------------------------
def split_study(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the scale study's rows, every other row): the study has a table and a figure of its own."""
    study = table["suite"] == "scale"
    return table[study], table[~study]


def study_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The scale suite's records with N, width and the plotted time: per gradient evaluation (one
    per VI step at one particle; NUTS per leapfrog step), else per step."""
    rows = table[table["suite"] == "scale"].copy()
    if rows.empty:
        return rows.assign(n=[], width=[], seconds=[])
    parsed = [family.parse(p) for p in rows["problem"]]
    rows["n"] = [p[0] for p in parsed]
    rows["width"] = ["x".join(map(str, p[1])) for p in parsed]
    per_grad = rows["time_per_grad_s"] if "time_per_grad_s" in rows else pd.Series(np.nan, index=rows.index)
    per_step = rows["time_per_step_s"] if "time_per_step_s" in rows else pd.Series(np.nan, index=rows.index)
    rows["seconds"] = per_grad.fillna(per_step).where(rows["status"] == "ok")
    return rows.sort_values(["width", "method", "device", "n"], key=_width_order).reset_index(drop=True)


def _width_order(column: pd.Series) -> pd.Series:
    if column.name != "width":
        return column
    return column.map(lambda w: tuple(int(x) for x in w.split("x")))


def crossover(n: Sequence[float], cpu: Sequence[float], gpu: Sequence[float]) -> float:
    """The N where the GPU time first drops below the CPU time: log-log interpolation between the
    two sizes that bracket the change; -inf when the GPU is faster at every N, +inf when at none,
    NaN when no N was measured on both."""
    n, ratio = np.asarray(n, float), np.log(np.asarray(gpu, float) / np.asarray(cpu, float))
    keep = np.isfinite(ratio)
    n, ratio = n[keep], ratio[keep]
    if len(n) == 0:
        return math.nan
    if ratio[0] < 0:
        return -math.inf
    for i in range(1, len(n)):
        if ratio[i] < 0 <= ratio[i - 1]:
            a, b = math.log(n[i - 1]), math.log(n[i])
            return float(math.exp(a + (b - a) * ratio[i - 1] / (ratio[i - 1] - ratio[i])))
    return math.inf


def crossovers(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (width, method) measured on both devices: the crossover N and the time there."""
    out = []
    for (width, method), group in rows.groupby(["width", "method"], sort=False):
        wide = group.pivot_table(index="n", columns="device", values="seconds", aggfunc="first")
        if not {"cpu", "gpu"} <= set(wide.columns):
            continue
        wide = wide.dropna()
        at = crossover(wide.index, wide["cpu"], wide["gpu"])
        seconds = math.nan
        if math.isfinite(at):
            seconds = float(np.exp(np.interp(np.log(at), np.log(wide.index), np.log(wide["cpu"]))))
        out.append(
            {
                "width": width,
                "method": method,
                "crossover_n": at,
                "seconds": seconds,
                "speedup_at_max_n": float(wide["cpu"].iloc[-1] / wide["gpu"].iloc[-1]) if len(wide) else math.nan,
                "max_n": int(wide.index[-1]) if len(wide) else None,
            }
        )
    return pd.DataFrame(out, columns=["width", "method", "crossover_n", "seconds", "speedup_at_max_n", "max_n"])


def describe_crossover(row) -> str:
    at = row["crossover_n"]
    if at == -math.inf:
        return "GPU faster at every N measured"
    if at == math.inf:
        return "CPU faster at every N measured"
    if math.isnan(at):
        return "no N measured on both devices"
    return f"GPU faster from N ~ {at:.3g}"


def _time_text(row) -> str:
    if row["status"] != "ok":
        return row["status"]
    return f"{row['seconds'] * 1e3:.3g}" if np.isfinite(row["seconds"]) else ""


def time_table(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: (width, method, device) by N, milliseconds per step; failures by status."""
    sizes = sorted(rows["n"].unique())
    headers = ["width", "method", "device"] + [f"N={family.size_token(n)}" for n in sizes]
    body = []
    for (width, method, device), group in rows.groupby(["width", "method", "device"], sort=False):
        by_n = {int(r["n"]): _time_text(r) for _, r in group.iterrows()}
        body.append([width, method, device] + [by_n.get(int(n), "") for n in sizes])
    return headers, body


def to_markdown(rows: pd.DataFrame) -> str:
    """The study as Markdown: time per step (ms) by N, peak device memory, and the crossovers."""
    if rows.empty:
        return ""
    headers, body = time_table(rows)
    lines = [
        "## scale: milliseconds per step (NUTS: per gradient evaluation)",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    found = crossovers(rows)
    if len(found):
        lines += ["", "| width | method | crossover | CPU / GPU time at the largest N |", "|---|---|---|---|"]
        for _, row in found.iterrows():
            lines.append(
                f"| {row['width']} | {row['method']} | {describe_crossover(row)} | "
                f"{row['speedup_at_max_n']:.3g} (N={family.size_token(row['max_n'])}) |"
            )
    return "\n".join(lines) + "\n"


def with_options(
    study: Study, sizes=None, widths=None, methods=None, steps=None, repeats=None, nuts_max_n=None, threads=None
) -> Study:
    """The study with the axes the command line gave replaced; NUTS runs only if still chosen."""
    changes = {
        k: v
        for k, v in {
            "sizes": sizes,
            "widths": widths,
            "methods": methods,
            "steps": steps,
            "repeats": repeats,
            "threads": threads,
        }.items()
        if v
    }
    if methods:
        chosen = any(m.split(":")[0] == NUTS for m in methods)
        changes["nuts_max_n"] = (nuts_max_n or study.nuts_max_n or FULL.nuts_max_n) if chosen else 0
    elif nuts_max_n is not None:
        changes["nuts_max_n"] = nuts_max_n
    return replace(study, **changes)
