"""The scale study's figure: time per step against N, log-log, one panel per width, one line per
(method, device), the crossover N marked where a method's GPU line crosses its CPU line."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bench.studies import scale

DEVICE_STYLE = {"cpu": {"ls": "--", "marker": "s"}, "gpu": {"ls": "-", "marker": "o"}}
YLABEL = "seconds per step (NUTS: per gradient evaluation)"
XLABEL = "training points N"


def figures(table: pd.DataFrame) -> dict[str, plt.Figure]:
    rows = scale.study_rows(table)
    rows = rows[rows["seconds"].notna()] if len(rows) else rows
    if rows.empty:
        return {}
    return {"scale": scale_figure(rows)}


def scale_figure(rows: pd.DataFrame) -> plt.Figure:
    widths = list(dict.fromkeys(rows["width"]))
    methods = sorted(rows["method"].unique())
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    fig, axes = plt.subplots(1, len(widths), figsize=(4.6 * len(widths), 4.0), squeeze=False)
    found = scale.crossovers(rows)
    for ax, width in zip(axes[0], widths):
        panel = rows[rows["width"] == width]
        for (method, device), line in panel.groupby(["method", "device"]):
            ax.plot(
                line["n"],
                line["seconds"],
                color=colours[method],
                lw=1.4,
                ms=4,
                label=f"{method} ({device})",
                **DEVICE_STYLE.get(device, {}),
            )
        for _, cross in found[found["width"] == width].iterrows():
            if math.isfinite(cross["crossover_n"]):
                ax.plot(
                    [cross["crossover_n"]],
                    [cross["seconds"]],
                    marker="*",
                    ms=14,
                    ls="none",
                    color=colours[cross["method"]],
                    markeredgecolor="black",
                    label=f"crossover {cross['method']}: N ~ {cross['crossover_n']:.2g}",
                )
                ax.axvline(cross["crossover_n"], color=colours[cross["method"]], lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log", xlabel=XLABEL, ylabel=YLABEL, title=f"MLP 2-{width.replace('x', '-')}-1")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6.5)
    if set(rows["device"]) == {"cpu"}:
        fig.suptitle("CPU only: the GPU half was not available\n(no GPU measurements in the store)", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.9))
    else:
        fig.tight_layout()
    return fig


def crossover_markers(fig: plt.Figure) -> list[tuple[float, float]]:
    """The (N, seconds) of every crossover marker drawn (what the figure shows, for its tests)."""
    points = []
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_marker() == "*":
                x, y = line.get_data()
                points += list(zip(np.asarray(x, float), np.asarray(y, float)))
    return points
