"""Exports for the dashboards people use: github-action-benchmark and Bencher (BMF JSON).

One entry per (cell group, metric) of a side: the median over seeds of each seed's value (the
median of its timed repeats for speed metrics), with the range over seeds.

- github-action-benchmark's custom tools take a JSON list of {name, unit, value, range?, extra?};
  a list is either `customSmallerIsBetter` or `customBiggerIsBetter`, so the export writes two
  files: FILE (smaller is better: times, moment error, RMSE) and FILE with `.bigger` before its
  suffix (bigger is better: steps/s, ELBO, AUC, accuracy, LPD).
- Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}, one benchmark
  per cell group and one measure (a kebab-case slug) per metric.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.regression.sides import KEY, METRICS, Side, settings_by_group, settings_diff
from bench.scoring.metrics import UNITS

FORMATS = ("github-action-benchmark", "bencher")


def benchmark_name(key: tuple, variants: set[str]) -> str:
    """suite/problem/method/device/dtype, with the settings that set it apart where the side holds
    the cell with more than one set of settings: `.../float32 [steps=500]`."""
    *group, settings = key
    name = "/".join(map(str, group))
    if len(variants) < 2:
        return name
    differ = sorted({n for other in variants for n in settings_diff(other, settings)})
    values = json.loads(settings)
    return name + " [" + ", ".join(f"{n}={values.get(n)}" for n in differ) + "]"


def entries(side: Side) -> pd.DataFrame:
    """benchmark, metric, unit, higher, value, lower, upper, seeds: one row per cell (group and
    settings) and metric; units from the metric catalogue."""
    samples = side.samples[side.samples["metric"].isin(list(METRICS))]
    per_seed = samples.groupby([*KEY, "metric", "seed"], as_index=False)["value"].median()
    variants = settings_by_group(side)
    rows = []
    for (*key, metric), group in per_seed.groupby([*KEY, "metric"]):
        values = group["value"].to_numpy()
        rows.append(
            {
                "benchmark": benchmark_name(tuple(key), variants[tuple(key[:-1])]),
                "metric": metric,
                "unit": UNITS.get(metric, ""),
                "higher": METRICS[metric][1],
                "value": float(np.median(values)),
                "lower": float(np.min(values)),
                "upper": float(np.max(values)),
                "seeds": len(values),
            }
        )
    return pd.DataFrame(rows, columns=["benchmark", "metric", "unit", "higher", "value", "lower", "upper", "seeds"])


def github_action_benchmark(table: pd.DataFrame, higher: bool) -> list[dict]:
    out = []
    for row in table[table["higher"] == higher].itertuples():
        entry = {"name": f"{row.benchmark} {row.metric}", "unit": row.unit or "value", "value": row.value}
        if row.seeds > 1:
            entry["range"] = f"± {(row.upper - row.lower) / 2:.4g}"
        entry["extra"] = f"median over {row.seeds} seed(s); min {row.lower:.6g}, max {row.upper:.6g}"
        out.append(entry)
    return out


def bencher(table: pd.DataFrame) -> dict:
    out: dict[str, dict] = {}
    for row in table.itertuples():
        out.setdefault(row.benchmark, {})[row.metric.replace("_", "-")] = {
            "value": row.value,
            "lower_value": row.lower,
            "upper_value": row.upper,
        }
    return out


def bigger_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.bigger{path.suffix or '.json'}")


def write(side: Side, format: str, path: Path) -> list[Path]:
    """Write the side in a dashboard format; returns the files written."""
    table = entries(side)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "bencher":
        path.write_text(json.dumps(bencher(table), indent=1))
        return [path]
    path.write_text(json.dumps(github_action_benchmark(table, higher=False), indent=1))
    bigger_path(path).write_text(json.dumps(github_action_benchmark(table, higher=True), indent=1))
    return [path, bigger_path(path)]
