"""What the readers ask the store: report, compare, history, plots, exports, selection checks.

Each function opens the file read-only for its own query and closes it. "The latest record of each
cell" is `_latest`, written once; tables come back as pandas DataFrames.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.spec.errors import BenchInputError
from bench.store.database import TABLES, check_readable, open_readonly

if TYPE_CHECKING:
    import pandas as pd

# The latest record of each cell: a cell is its key (problem, method variant, seed, device, dtype)
# and its resolved settings, so a 500-step and a 10,000-step run of one method are two cells.
LATEST_PER_CELL = "SELECT MAX(record_id) FROM records {where} GROUP BY cell_key, settings"
OWN_RECORDS = "SELECT run_id, record_id FROM records"
WITH_REUSED = OWN_RECORDS + " UNION SELECT run_id, record_id FROM run_cells"  # a run's records: written or reused


@contextmanager
def _reading(path: Path | str) -> Iterator[sqlite3.Connection]:
    con = open_readonly(path)
    try:
        yield con
    finally:
        con.close()


def _frame(path: Path | str, query: str, params: Sequence = ()) -> pd.DataFrame:
    import pandas as pd

    with _reading(path) as con:
        return pd.read_sql_query(query, con, params=list(params) or None)


def _marks(values: Sequence) -> str:
    return ",".join("?" * len(values))


def _members(path: Path | str) -> str:
    """The query of (run_id, record_id) pairs: the records each run wrote and those it reused (a
    store written before `run_cells` existed has only the first)."""
    with _reading(path) as con:
        found = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_cells'").fetchone()
    return WITH_REUSED if found else OWN_RECORDS


def _runs_with_records(path: Path | str) -> str:
    return f"run_id IN (SELECT run_id FROM ({_members(path)}))"


def load(path: Path | str, table: str = "tidy"):
    """One table of the store as a pandas DataFrame; "tidy" joins metrics to their cells."""
    if table != "tidy" and table not in TABLES:
        raise BenchInputError(f"unknown table {table!r}; valid choices: tidy, {', '.join(TABLES)}")
    check_readable(Path(path))
    if not Path(path).exists():
        raise BenchInputError(f"store {path} does not exist")
    if table == "run_cells" and _members(path) == OWN_RECORDS:  # a store older than the table
        import pandas as pd

        return pd.DataFrame(columns=["run_id", "record_id"])
    if table == "tidy":
        return _frame(
            path,
            "SELECT r.record_id, r.run_id, ru.tag, r.suite, r.problem, r.method, r.variant, r.seed,"
            " r.device, r.dtype, r.status, r.reason, r.cell_key, m.metric, m.component, m.value"
            " FROM records r JOIN runs ru USING (run_id) LEFT JOIN metrics m USING (record_id)"
            " ORDER BY r.record_id",
        )
    return _frame(path, f"SELECT * FROM {table}")


def load_arrays(path: Path | str, record_id: int, prefix: str = "") -> dict[str, np.ndarray]:
    """The arrays stored with one record whose names start with `prefix` (empty for stores written
    before the table existed)."""
    with _reading(path) as con:
        try:
            rows = con.execute(
                "SELECT name, shape, data FROM arrays WHERE record_id = ? AND substr(name, 1, ?) = ?",
                (record_id, len(prefix), prefix),
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
    return {name: np.frombuffer(data, dtype="<f4").reshape(json.loads(shape)) for name, shape, data in rows}


# -- runs and the latest record of each cell -----------------------------------------------------
def runs(path: Path | str) -> pd.DataFrame:
    """The runs that wrote or reused records, oldest first: run_id, tag, started_at."""
    return _frame(
        path, f"SELECT run_id, tag, started_at FROM runs WHERE {_runs_with_records(path)} ORDER BY started_at, run_id"
    )


def run_summaries(path: Path | str) -> pd.DataFrame:
    """Every run with records, oldest first: run_id, tag, started_at, finished_at, command, the
    records it wrote (`ran`) and reused, and its records' protocols (comma-separated, sorted)."""
    members = _members(path)
    return _frame(
        path,
        "SELECT ru.run_id, ru.tag, ru.started_at, ru.finished_at, ru.command,"
        " SUM(r.run_id = ru.run_id) AS ran, SUM(r.run_id != ru.run_id) AS reused,"
        " (SELECT GROUP_CONCAT(p, ',') FROM (SELECT DISTINCT COALESCE(json_extract(r2.settings, '$.protocol'), '')"
        f" AS p FROM ({members}) m2 JOIN records r2 USING (record_id) WHERE m2.run_id = ru.run_id ORDER BY p)) AS protocols"
        f" FROM runs ru JOIN ({members}) m ON m.run_id = ru.run_id JOIN records r ON r.record_id = m.record_id"
        " GROUP BY ru.run_id ORDER BY ru.started_at, ru.run_id",
    )


def run_ids(path: Path | str) -> list[str]:
    """The runs that wrote records, oldest first."""
    return list(runs(path)["run_id"])


def incomplete_runs(path: Path | str, spec: str | None = None) -> list[str]:
    """Runs with records but no `finished_at`, oldest first; only the run or tag `spec` names, if given."""
    query, params = f"SELECT run_id FROM runs WHERE finished_at IS NULL AND {_runs_with_records(path)}", []
    if spec is not None:
        query, params = query + " AND (run_id = ? OR tag = ?)", [spec, spec]
    with _reading(path) as con:
        return [row[0] for row in con.execute(query + " ORDER BY started_at", params)]


def _latest(
    run_ids: Sequence[str] | None = None,
    tag: str | None = None,
    cell_key: str | None = None,
    members: str = OWN_RECORDS,
) -> tuple[str, list]:
    """The query of the latest record of each cell (key and settings), and its parameters: in the
    whole store, within `run_ids` or the runs tagged `tag` (the records they wrote or reused, per
    `members`), or of one cell key (its latest record, whatever its settings)."""
    where, params = [], []
    if run_ids is not None:
        where.append(f"record_id IN (SELECT record_id FROM ({members}) WHERE run_id IN ({_marks(run_ids)}))")
        params += list(run_ids)
    if tag:
        where.append(
            f"record_id IN (SELECT record_id FROM ({members}) WHERE run_id IN (SELECT run_id FROM runs WHERE tag = ?))"
        )
        params.append(tag)
    if cell_key is not None:
        where.append("cell_key = ?")
        params.append(cell_key)
        return f"SELECT MAX(record_id) FROM records WHERE {' AND '.join(where)}", params
    return LATEST_PER_CELL.format(where=("WHERE " + " AND ".join(where)) if where else ""), params


def run_records(path: Path | str, run_id: str) -> pd.DataFrame:
    """The records one run wrote: record_id, status, wall_s, info (its JSON text)."""
    return _frame(
        path, "SELECT record_id, status, wall_s, info FROM records WHERE run_id = ? ORDER BY record_id", [run_id]
    )


def latest_record_ids(path: Path | str, run_ids: Sequence[str] | None = None, reused: bool = True) -> list[int]:
    """The latest record of each cell, in the whole store or within `run_ids` (the records they
    wrote, and with `reused` the finished records they reused)."""
    query, params = _latest(run_ids=run_ids, members=_members(path) if reused else OWN_RECORDS)
    with _reading(path) as con:
        return [row[0] for row in con.execute(query, params)]


def latest_records(path: Path | str, tag: str | None = None) -> pd.DataFrame:
    """One row per cell (key and settings), its latest record (within the runs tagged `tag`), with
    its thread setting, its resolved settings (JSON) and its compile cache state."""
    latest, params = _latest(tag=tag, members=_members(path))
    return _frame(
        path,
        "SELECT r.record_id, r.run_id, r.cell_key, r.cell_hash, r.suite, r.problem, r.method, r.variant,"
        " r.seed, r.device, r.dtype, r.status, r.reason, json_extract(r.info, '$.threads.setting') AS threads,"
        " r.settings, json_extract(r.info, '$.compile_cache') AS compile_cache"
        f" FROM records r WHERE r.record_id IN ({latest})",
        params,
    )


def latest_record_for_key(path: Path | str, cell_key: str) -> tuple[int, str, str] | None:
    """(record id, problem, status) of the latest record of a cell, or None if it has none."""
    latest, params = _latest(cell_key=cell_key)
    with _reading(path) as con:
        row = con.execute(
            f"SELECT record_id, problem, status FROM records WHERE record_id IN ({latest})", params
        ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def records_with_environment(path: Path | str, record_ids: Sequence[int]) -> pd.DataFrame:
    """These records with their run's command and the environment each ran in: the worker's where
    the record names one (a cluster's), else its run's."""
    return _frame(
        path,
        "SELECT r.record_id, r.run_id, r.cell_key, r.seed, r.suite, r.problem, r.method, r.variant,"
        " r.device, r.dtype, r.status, r.settings, json_extract(r.info, '$.compile_cache') AS compile_cache,"
        " runs.command, e.environment FROM records r JOIN runs USING (run_id)"
        " LEFT JOIN environments e ON e.env_id = COALESCE(json_extract(r.info, '$.env_id'), runs.env_id)"
        f" WHERE r.record_id IN ({_marks(record_ids)})",
        record_ids,
    )


# -- metrics, timings, traces --------------------------------------------------------------------
def scalar_metrics(path: Path | str, record_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Aggregate metrics (no component) of these records, or of all: record_id, metric, value."""
    where = "" if record_ids is None else f" AND record_id IN ({_marks(record_ids)})"
    return _frame(path, f"SELECT record_id, metric, value FROM metrics WHERE component = ''{where}", record_ids or ())


def component_metrics(path: Path | str, metric: str, record_ids: list[int]) -> pd.DataFrame:
    """Per-component values of one metric for these records: record_id, component, value."""
    return _frame(
        path,
        "SELECT record_id, component, value FROM metrics WHERE metric = ? AND component != ''"
        f" AND record_id IN ({_marks(record_ids)})",
        [metric, *record_ids],
    )


def timing_samples(path: Path | str, record_ids: Sequence[int], phase: str = "run_s") -> pd.DataFrame:
    """One phase's timed samples of these records: record_id, value (seconds)."""
    return _frame(
        path,
        "SELECT record_id, seconds AS value FROM timing_samples WHERE phase = ?"
        f" AND record_id IN ({_marks(record_ids)})",
        [phase, *record_ids],
    )


def traces(path: Path | str, record_ids: list[int]) -> pd.DataFrame:
    """The stored (thinned) loss traces of these records: record_id, step, loss."""
    return _frame(
        path, f"SELECT record_id, step, loss FROM traces WHERE record_id IN ({_marks(record_ids)})", record_ids
    )


def metric_history(path: Path | str, cell_key: str, metric: str, up_to_record_id: int, limit: int) -> pd.DataFrame:
    """The `limit` latest ok values of one cell's metric at or before a record, with each record's
    environment (so a caller can keep one machine's): what compile time is gated against."""
    return _frame(
        path,
        "SELECT r.record_id, m.value, e.environment, json_extract(r.info, '$.compile_cache') AS compile_cache,"
        " r.settings FROM records r JOIN metrics m USING (record_id)"
        " JOIN runs USING (run_id) LEFT JOIN environments e USING (env_id)"
        " WHERE r.cell_key = ? AND r.status = 'ok' AND m.metric = ? AND m.component = '' AND r.record_id <= ?"
        " ORDER BY r.record_id DESC LIMIT ?",
        (cell_key, metric, int(up_to_record_id), int(limit)),
    )


def timing_rows(path: Path | str) -> pd.DataFrame:
    """Every ok record's timed repeats with its cell and run: the rounds of a re-measurement."""
    return _frame(
        path,
        "SELECT r.run_id, ru.tag, r.suite, r.problem, r.method, r.variant, r.seed, r.device, r.dtype,"
        " t.repeat, t.seconds, (SELECT value FROM metrics m WHERE m.record_id = r.record_id"
        " AND m.metric = 'steps' AND m.component = '') AS steps"
        " FROM records r JOIN runs ru USING (run_id) JOIN timing_samples t USING (record_id)"
        " WHERE r.status = 'ok' AND t.phase = 'run_s'",
    )


# -- what the store holds, for checking a user's filters -----------------------------------------
def cell_keys(path: Path | str) -> list[str]:
    with _reading(path) as con:
        return [row[0] for row in con.execute("SELECT DISTINCT cell_key FROM records ORDER BY cell_key")]


def distinct_values(path: Path | str, column: str) -> set[str]:
    """The distinct values of a records column (problem, method, suite) in a readable store."""
    if column not in ("suite", "problem", "method"):
        raise ValueError(f"not a filter column of records: {column!r}")
    with _reading(path) as con:
        return {row[0] for row in con.execute(f"SELECT DISTINCT {column} FROM records") if row[0]}
