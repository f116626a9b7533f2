"""Tables from the store: the end-of-run summary, Markdown, and the long CSV format."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from bench import store
from bench.scoring.metrics import FLAGS, METRICS, flags_of

# (metric, column header) shown in summaries, in catalogue order; a column no row has is left out.
SUMMARY_METRICS = tuple((m.name, m.header) for m in METRICS.values() if m.summary)
ID_COLUMNS = ("problem", "method", "seed", "status")  # device, dtype, threads and settings join when they vary
VARYING_COLUMNS = ("device", "dtype", "threads")
LONG_COLUMNS = ("problem", "method", "seed", "device", "status", "metric", "value")
# Settings shown beside the numbers wherever rows of one problem differ in them (they decide what a
# comparison means); any other setting is shown where it tells apart two rows of one method.
HEADLINE_SETTINGS = ("protocol", "steps", "learning_rate")
SETTING_HEADERS = {"learning_rate": "lr"}
CACHED = ("hit", "partial")  # info.compile_cache states whose compile time came (partly) from a cache
NOT_METRICS = {
    "record_id",
    "run_id",
    "cell_key",
    "cell_hash",
    "suite",
    "variant",
    "dtype",
    "reason",
    "threads",
    "settings",
    "compile_cache",
    "label",
}


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
    table = split_compile(table)
    return table.sort_values(["suite", "problem", "method", "seed"]).reset_index(drop=True)


def split_compile(table: pd.DataFrame) -> pd.DataFrame:
    """Cold and cached compiles in separate columns: `compile_s` keeps the compiles that were not
    loaded from a persistent cache, `compile_cached_s` those that were (info.compile_cache hit or
    partial), so a table never puts a cache hit beside another cell's cold compile."""
    if "compile_s" not in table or "compile_cache" not in table:
        return table
    cached = table["compile_cache"].isin(CACHED)
    return table.assign(compile_cached_s=table["compile_s"].where(cached), compile_s=table["compile_s"].where(~cached))


def settings_of(table: pd.DataFrame) -> list[dict]:
    """Each row's resolved settings (empty where the table has none)."""
    if "settings" not in table:
        return [{} for _ in range(len(table))]
    return [json.loads(s) if isinstance(s, str) and s else {} for s in table["settings"]]


def _varies(values: list) -> bool:
    present = [json.dumps(v, sort_keys=True) for v in values if v is not None]
    return len(set(present)) > 1


def differing_settings(table: pd.DataFrame) -> list[str]:
    """The settings a table must show: a headline setting (protocol, steps, learning rate) that takes
    more than one value among one problem's rows, and any setting that tells apart rows of one
    (problem, method). Headline settings first, then the others by name."""
    settings = settings_of(table)
    if not any(settings):
        return []
    groups: dict[tuple, list[dict]] = {}
    by_problem: dict[str, list[dict]] = {}
    for (problem, method), values in zip(zip(table["problem"], table["method"]), settings):
        groups.setdefault((problem, method), []).append(values)
        by_problem.setdefault(problem, []).append(values)
    names = {name for values in settings for name in values}
    shown = [
        n
        for n in HEADLINE_SETTINGS
        if n in names and any(_varies([v.get(n) for v in rows]) for rows in by_problem.values())
    ]
    others = sorted(n for n in names - set(shown) if any(_varies([v.get(n) for v in rows]) for rows in groups.values()))
    return shown + others


def setting_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return fmt(value)
    return str(value)


def label_by_settings(table: pd.DataFrame) -> pd.DataFrame:
    """Method labels that carry the settings telling apart rows of one (problem, method), for
    outputs keyed by the label alone (figures, the long CSV, dashboards): `pymc.advi [steps=500]`."""
    settings = settings_of(table)
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(table["problem"], table["method"])):
        groups.setdefault(key, []).append(i)
    labels = list(table["method"])
    for rows in groups.values():
        names = sorted({n for i in rows for n in settings[i]})
        differ = [n for n in names if _varies([settings[i].get(n) for i in rows])]
        for i in rows if differ else ():
            labels[i] += " [" + ", ".join(f"{n}={setting_text(settings[i].get(n))}" for n in differ) + "]"
    return table.assign(method=labels)


def row_flags(row) -> list:
    """The catalogue's flags a record's metrics raise (k-hat above 0.7, not converged)."""
    return flags_of({name: row.get(name) for name in FLAGS})


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
    id_columns = list(ID_COLUMNS[:3]) + varying
    setting_names = differing_settings(table)
    shown = [(m, h) for m, h in SUMMARY_METRICS if m in table and table[m].notna().any()]
    headers = id_columns + [SETTING_HEADERS.get(n, n) for n in setting_names] + list(ID_COLUMNS[3:])
    headers += [header for _, header in shown] + ["flags", "reason"]
    rows = []
    for (_, row), settings in zip(table.iterrows(), settings_of(table)):
        cells = [fmt(row.get(c)) for c in id_columns] + [setting_text(settings.get(n)) for n in setting_names]
        cells += [fmt(row.get(c)) for c in ID_COLUMNS[3:]]
        cells += [fmt(row.get(metric)) for metric, _ in shown]
        cells.append(" ".join(f"{flag.marker} {flag.short}" for flag in row_flags(row)))
        cells.append(str(row.get("reason") or ""))  # ok rows too: e.g. scored against a failed reference
        rows.append(cells)
    for column in ("reason", "flags"):  # no failures, no flags: no such column
        i = headers.index(column)
        if not any(row[i] for row in rows):
            headers, rows = headers[:i] + headers[i + 1 :], [row[:i] + row[i + 1 :] for row in rows]
    return headers, rows


def to_markdown(table: pd.DataFrame) -> str:
    headers, rows = summary_rows(table)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_long(table: pd.DataFrame) -> pd.DataFrame:
    """The long format: one row per (cell, metric); a cell without metrics keeps one row."""
    table = label_by_settings(table)  # two settings of one method: told apart in the method column
    id_columns = ["problem", "method", "seed", "device", "status"]
    metric_columns = [c for c in table.columns if c not in set(id_columns) | NOT_METRICS]
    long = table.melt(id_vars=id_columns, value_vars=metric_columns, var_name="metric", value_name="value")
    long = long.dropna(subset=["value"])
    has_metrics = table[metric_columns].notna().any(axis=1)
    bare = table.loc[~has_metrics, id_columns].assign(metric="", value=float("nan"))
    out = pd.concat([long, bare], ignore_index=True)
    return out.sort_values(["problem", "method", "seed", "metric"]).reset_index(drop=True)[list(LONG_COLUMNS)]


def to_csv(table: pd.DataFrame) -> str:
    """The long format; a flagged cell carries its flag as a metric row (`converged` 0, `khat_flag` 1)."""
    return to_long(with_flag_rows(table)).to_csv(index=False)


def with_flag_rows(table: pd.DataFrame) -> pd.DataFrame:
    """`khat_flag` filled in from `khat` where a record predates it, so every format marks k-hat."""
    if "khat" not in table:
        return table
    rule = FLAGS["khat"]
    derived = [float(rule.applies(k)) if k == k and k is not None else float("nan") for k in table["khat"]]
    if "khat_flag" in table:
        derived = [old if old == old else new for old, new in zip(table["khat_flag"], derived)]
    return table.assign(khat_flag=derived)
