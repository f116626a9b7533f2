"""A metric of one cell over the runs of a store, per machine, with change points marked.

A change point is a run whose samples differ from the previous run on the same machine by the
regression gate's own rule (significant and at least the minimum effect). A run whose cell ran
with other settings than the previous one on its machine gets no verdict: it is "not comparable",
with the settings that differ (`bench history` then exits 3, as `bench compare` does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.regression import sides as compare
from bench.spec.errors import BenchInputError, unknown
from bench.store import run_summaries


def runs_in(store: Path) -> list[str]:
    """The runs that wrote records, oldest first (a run that only reused cells adds no point)."""
    runs = run_summaries(store)
    return list(runs.loc[runs["ran"] > 0, "run_id"])


def history(
    store: Path,
    problem: str,
    method: str,
    metric: str = "run_s",
    device: str = "cpu",
    thresholds: compare.Thresholds = compare.Thresholds(),
) -> pd.DataFrame:
    if metric not in compare.METRICS:
        raise unknown("metric", metric, compare.METRICS)
    kind, higher = compare.METRICS[metric]
    min_effect = thresholds.min_effect_time if kind == "time" else thresholds.min_effect_quality
    rows, previous = [], {}
    for run_id in runs_in(store):
        side = compare.load_side(run_id, store, reused=False)  # a run's own records: a reused one is no new point
        s = side.samples
        s = s[(s["problem"] == problem) & (s["method"] == method) & (s["device"] == device) & (s["metric"] == metric)]
        if s.empty:
            continue
        for settings, part in s.groupby("settings", sort=False):
            machine = part["machine"].iloc[0]
            values = part["value"].to_numpy()
            change_point, change, note = False, float("nan"), ""
            if machine in previous and previous[machine][0] != settings:
                note = compare.SETTINGS_DIFFER + compare.describe_diff(
                    compare.settings_diff(previous[machine][0], settings), "before", "now"
                )
            elif machine in previous:
                outcome, change, _ = compare.verdict(
                    previous[machine][1], values, higher, min_effect, thresholds.alpha, best_must_move=kind == "time"
                )
                change_point = outcome in ("regression", "improvement")
            previous[machine] = (settings, values)
            rows.append(
                {
                    "run_id": run_id,
                    "machine": machine,
                    "median": float(np.median(values)),
                    "n": len(values),
                    "change": change,
                    "change_point": change_point,
                    "not_comparable": note,
                }
            )
    if not rows:
        raise BenchInputError(f"no ok records of {problem} with {method} on {device} in {store}")
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, title: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for machine, group in table.groupby("machine", sort=False):
        x = group.index.to_numpy()
        ax.plot(x, group["median"], marker="o", label=machine)
        points = group[group["change_point"]]
        ax.scatter(points.index, points["median"], s=160, facecolors="none", edgecolors="red", zorder=3)
    if table["change_point"].any():
        ax.scatter([], [], s=160, facecolors="none", edgecolors="red", label="change point")
    ax.set_xticks(table.index, table["run_id"], rotation=30, ha="right", fontsize=7)
    ax.set(title=title, ylabel=ylabel, xlabel="run")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
