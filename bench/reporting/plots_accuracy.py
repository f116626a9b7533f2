"""Cost to accuracy as a figure (`bench plot --kind accuracy`): per problem, the task's quality metric
at each checkpoint against gradient evaluations (left) and pro-rata seconds (right), log axes, one
colour per method (a line per seed), the task's thresholds (bench.scoring.metrics.THRESHOLDS) marked.
VI lines are the fitted q along the optimisation; MCMC lines the running estimate from the first n
draws of every chain, warm-up included, so both meet on one axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import suites
from bench.scoring.metrics import quality_label, quality_metric, thresholds_for
from bench.store import load_arrays

AXES = (
    ("checkpoint_grads", "gradient evaluations (MH: log-density evaluations)"),
    ("checkpoint_run_s", "seconds into the timed run (pro rata)"),
)
THRESHOLD_STYLE = {"color": "0.35", "lw": 0.9, "ls": (0, (4, 3))}
SEED_STYLES = ("-", "--", ":", "-.")  # as bench.reporting.plots (which imports this module)
LEGEND_SIZE = 8


def _colour(method: str, table: pd.DataFrame):
    """The method's tab10 colour, the same as in bench.reporting.plots' figures."""
    return plt.get_cmap("tab10")(sorted(table["method"].unique()).index(method) % 10)


def _quiet_log_ticks(axis) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, numticks=6))
    axis.set_minor_formatter(NullFormatter())


def figures(store: Path, table: pd.DataFrame) -> dict[str, plt.Figure]:
    ok = table[table["status"] == "ok"]
    arrays = {int(r): load_arrays(store, int(r), prefix="checkpoint_") for r in ok["record_id"]}
    arrays = {r: a for r, a in arrays.items() if "checkpoint_quality" in a}
    ok = ok[ok["record_id"].isin(list(arrays))]
    return {
        f"accuracy_{problem}": _figure(problem, rows, arrays, table)
        for problem, rows in ok.groupby("problem", sort=True)
    }


def _targets(problem, rows: pd.DataFrame) -> list[tuple[float, str]]:
    """Each threshold's quality level: an absolute bound, or the reference's quality (median over the
    records' seeds) minus or plus the margin."""
    reference = None
    if "quality_ref" in rows and rows["quality_ref"].notna().any():
        reference = float(rows["quality_ref"].median())
    out = [(t.target(reference), t.label()) for t in thresholds_for(problem.task)]
    return [(value, label) for value, label in out if np.isfinite(value)]


def _figure(problem_name: str, rows: pd.DataFrame, arrays: dict, table: pd.DataFrame) -> plt.Figure:
    problem = suites.get_problem(problem_name)
    lower_is_better = not quality_metric(problem.task).higher_is_better
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 3.9), squeeze=False)
    seeds = sorted(rows["seed"].unique())
    for ax, (x_name, x_label) in zip(axes[0], AXES):
        drawn = False
        for method, group in rows.groupby("method", sort=True):
            for i, (_, row) in enumerate(group.iterrows()):
                a = arrays[int(row["record_id"])]
                if x_name not in a:
                    continue
                x, y = a[x_name], a["checkpoint_quality"]
                keep = (x > 0) & np.isfinite(y) & ((y > 0) | (not lower_is_better))
                ax.plot(
                    x[keep],
                    y[keep],
                    marker="o",
                    ms=2.2,
                    lw=1.1,
                    alpha=0.85,
                    color=_colour(method, table),
                    ls=SEED_STYLES[seeds.index(row["seed"]) % len(SEED_STYLES)],
                    label=method if i == 0 else None,
                )
                drawn = True
        for value, label in _targets(problem, rows):
            ax.axhline(value, **THRESHOLD_STYLE)
            ax.annotate(
                label,
                (1.0, value),
                xycoords=("axes fraction", "data"),
                xytext=(-3, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.3",
            )
        ax.set_xscale("log")
        if lower_is_better:
            ax.set_yscale("log")
        _quiet_log_ticks(ax.xaxis)
        ax.set(xlabel=x_label, ylabel=quality_label(problem), title=f"{problem_name}: cost to accuracy")
        if drawn and x_name == AXES[-1][0]:  # the full legend outside the right panel: lines end low on the left
            ax.legend(fontsize=LEGEND_SIZE, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        elif drawn:  # every panel says what its lines are (the same methods as the right panel's)
            ax.legend(fontsize=LEGEND_SIZE, loc="best")
    fig.tight_layout()
    return fig
