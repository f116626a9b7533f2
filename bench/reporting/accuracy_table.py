"""The "cost to accuracy" table: per problem and method, what each threshold of the task's quality
metric (bench.scoring.metrics.THRESHOLDS) cost to reach, in gradient evaluations and seconds.

Each entry is the median over seeds, a seed that never reached the threshold counting as infinitely
costly (so the median is `not reached` when fewer than half the seeds got there), with the count of
seeds that reached it. Cells with no checkpoints (Pathfinder, failed cells) have no row.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.reporting.report import fmt
from bench.scoring.metrics import Threshold, thresholds_for

NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Cost:
    grads: float  # median over seeds; inf: not reached by the median seed
    seconds: float
    reached: int  # seeds that reached the threshold
    seeds: int  # seeds with a verdict

    def text(self) -> str:
        count = f"({self.reached}/{self.seeds})"
        if not math.isfinite(self.seconds):
            return f"{NOT_REACHED} {count}"
        grads = "" if not math.isfinite(self.grads) else f"{fmt(self.grads)} · "
        return f"{grads}{fmt(self.seconds)} s {count}"


@dataclass
class AccuracyTable:
    suite: str
    task: str
    thresholds: tuple[Threshold, ...]
    rows: list[tuple[str, str, list[Cost | None]]]  # (problem, method, one cost per threshold)

    @property
    def title(self) -> str:
        return f"{self.suite}: cost to accuracy ({self.task})"

    @property
    def headers(self) -> list[str]:
        return [t.label() for t in self.thresholds]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan


def _cost(group: pd.DataFrame, threshold: Threshold) -> Cost | None:
    column = f"to_{threshold.name}_reached"
    if column not in group:
        return None
    judged = group[group[column].notna()]
    if judged.empty:
        return None
    reached = judged[column].to_numpy(dtype=float) > 0

    def costs(suffix: str) -> np.ndarray:
        name = f"to_{threshold.name}_{suffix}"
        values = judged[name].to_numpy(dtype=float) if name in judged else np.full(len(judged), np.nan)
        if not np.isfinite(values[reached]).all():  # the cost is not counted (no gradient count)
            return np.array([])
        return np.where(reached, values, np.inf)

    return Cost(_median(costs("grads")), _median(costs("s")), int(reached.sum()), len(judged))


def build(table: pd.DataFrame, problem_tasks: dict[str, str]) -> list[AccuracyTable]:
    """One table per (suite, task) from the latest records (one row per cell), ok cells only."""
    ok = table[table["status"] == "ok"].assign(task=table["problem"].map(problem_tasks))
    out = []
    for (suite, task), part in ok.groupby(["suite", "task"], sort=True):
        thresholds = thresholds_for(str(task))
        rows = []
        for (problem, method), group in part.groupby(["problem", "method"], sort=True):
            costs = [_cost(group, t) for t in thresholds]
            if any(c is not None for c in costs):
                rows.append((str(problem), str(method), costs))
        if rows:
            out.append(AccuracyTable(str(suite), str(task), thresholds, rows))
    return out


LEGEND = (
    "median over seeds of the first checkpoint from which the quality stays within each threshold: gradient evaluations "
    "(log-density evaluations for MH) · seconds (pro rata in the timed run), (seeds reached / seeds); "
    "MCMC: the running estimate from the first n draws of every chain, warm-up included"
)


def to_markdown(tables: list[AccuracyTable]) -> str:
    out = []
    for t in tables:
        headers = ["problem", "method", *t.headers]
        out += [
            f"### {t.title}",
            "",
            f"_{LEGEND}_",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---" for _ in headers) + "|",
        ]
        for problem, method, costs in t.rows:
            out.append("| " + " | ".join([problem, method, *("" if c is None else c.text() for c in costs)]) + " |")
        out.append("")
    return "\n".join(out)


def to_html(tables: list[AccuracyTable]) -> str:
    parts = []
    for t in tables:
        index = pd.MultiIndex.from_tuples([(p, m) for p, m, _ in t.rows], names=["problem", "method"])
        frame = pd.DataFrame(
            [["" if c is None else c.text() for c in costs] for _, _, costs in t.rows], index=index, columns=t.headers
        )
        parts += [
            f"<h2>{html.escape(t.title)}</h2>",
            f'<p class="meta">{html.escape(LEGEND)}</p>',
            frame.style.to_html(table_attributes='class="bench"'),
        ]
    return "\n".join(parts)
