"""Tables from the store: the end-of-run summary, Markdown, and the long CSV format."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from bench import store
from bench.scoring.metrics import METRICS

# (metric, column header) shown in summaries, in catalogue order; a column no row has is left out.
SUMMARY_METRICS = tuple((m.name, m.header) for m in METRICS.values() if m.summary)
ID_COLUMNS = ("problem", "method", "seed", "status")  # device, dtype and threads join when they vary
VARYING_COLUMNS = ("device", "dtype", "threads")
LONG_COLUMNS = ("problem", "method", "seed", "device", "status", "metric", "value")


def latest_records(
    path: Path | str,
    hashes: Iterable[str] | None = None,
    suite: str | None = None,
    problems: Sequence[str] = (),
    methods: Sequence[str] = (),
    tag: str | None = None,
) -> pd.DataFrame:
    """One row per cell (its latest record, or its latest in runs tagged `tag`) with every
    aggregate metric as a column."""
    store.check_readable(Path(path))
    records, metrics = store.latest_records(path, tag=tag), store.scalar_metrics(path)
    if hashes is not None:
        records = records[records["cell_hash"].isin(set(hashes))]
    if suite:
        records = records[records["suite"] == suite]
    if problems:
        records = records[records["problem"].isin(problems)]
    records = records.assign(label=[m + (f":{v}" if v else "") for m, v in zip(records["method"], records["variant"])])
    if methods:
        keep = [any(label == m or label.startswith(m + ":") for m in methods) for label in records["label"]]
        records = records[keep]
    wide = metrics.pivot_table(index="record_id", columns="metric", values="value", aggfunc="first")
    table = records.merge(wide, left_on="record_id", right_index=True, how="left")
    table = table.drop(columns=["method"]).rename(columns={"label": "method"})
    return table.sort_values(["suite", "problem", "method", "seed"]).reset_index(drop=True)


def fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if 1e3 <= abs(value) < 1e7:
            return f"{value:.0f}"
        if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def summary_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows; a failed cell shows its reason in place of numbers, and an ok cell
    scored against a reference that failed its gates says so."""
    varying = [c for c in VARYING_COLUMNS if c in table and table[c].nunique() > 1]
    id_columns = list(ID_COLUMNS[:3]) + varying + list(ID_COLUMNS[3:])
    shown = [(m, h) for m, h in SUMMARY_METRICS if m in table and table[m].notna().any()]
    headers = id_columns + [header for _, header in shown] + ["reason"]
    rows = []
    for _, row in table.iterrows():
        cells = [fmt(row.get(c)) for c in id_columns]
        cells += [fmt(row.get(metric)) for metric, _ in shown]
        cells.append(str(row.get("reason") or ""))  # ok rows too: e.g. scored against a failed reference
        rows.append(cells)
    if not any(row[-1] for row in rows):  # no failures: no reason column
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    return headers, rows


def to_markdown(table: pd.DataFrame) -> str:
    headers, rows = summary_rows(table)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_long(table: pd.DataFrame) -> pd.DataFrame:
    """The long format: one row per (cell, metric); a cell without metrics keeps one row."""
    id_columns = ["problem", "method", "seed", "device", "status"]
    metric_columns = [c for c in table.columns if c not in set(id_columns) | {
        "record_id", "run_id", "cell_key", "cell_hash", "suite", "variant", "dtype", "reason", "threads"}]  # fmt: skip
    long = table.melt(id_vars=id_columns, value_vars=metric_columns, var_name="metric", value_name="value")
    long = long.dropna(subset=["value"])
    has_metrics = table[metric_columns].notna().any(axis=1)
    bare = table.loc[~has_metrics, id_columns].assign(metric="", value=float("nan"))
    out = pd.concat([long, bare], ignore_index=True)
    return out.sort_values(["problem", "method", "seed", "metric"]).reset_index(drop=True)[list(LONG_COLUMNS)]


def to_csv(table: pd.DataFrame) -> str:
    return to_long(table).to_csv(index=False)
