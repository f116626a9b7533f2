"""The SQLite store: the database of record, schema-versioned, written by the driver only.

Tidy long tables (runs, environments, records, metrics, timing samples, traces); one
transaction per record, so killing a run mid-grid leaves every finished cell readable.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.spec.errors import BenchInputError

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
TABLES = ("runs", "environments", "records", "metrics", "timing_samples", "traces", "arrays")
RESUMABLE = ("ok", "diverged", "unsupported")  # outcomes a re-run with the same hash need not repeat

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS environments (env_id TEXT PRIMARY KEY, environment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, command TEXT,
    tag TEXT, env_id TEXT REFERENCES environments(env_id));
CREATE TABLE IF NOT EXISTS records (
    record_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    cell_key TEXT NOT NULL, cell_hash TEXT NOT NULL, suite TEXT, problem TEXT, method TEXT,
    variant TEXT, seed INTEGER, device TEXT, dtype TEXT, settings TEXT, status TEXT NOT NULL,
    reason TEXT, started_at TEXT, wall_s REAL, info TEXT);
CREATE INDEX IF NOT EXISTS records_hash ON records(cell_hash);
CREATE INDEX IF NOT EXISTS records_key ON records(cell_key);
CREATE TABLE IF NOT EXISTS metrics (
    record_id INTEGER NOT NULL REFERENCES records(record_id), metric TEXT NOT NULL,
    component TEXT NOT NULL DEFAULT '', value REAL);
CREATE INDEX IF NOT EXISTS metrics_record ON metrics(record_id);
CREATE TABLE IF NOT EXISTS timing_samples (
    record_id INTEGER NOT NULL REFERENCES records(record_id), phase TEXT NOT NULL,
    repeat INTEGER NOT NULL, seconds REAL);
CREATE TABLE IF NOT EXISTS traces (
    record_id INTEGER NOT NULL REFERENCES records(record_id), step INTEGER NOT NULL, loss REAL);
CREATE TABLE IF NOT EXISTS arrays (
    record_id INTEGER NOT NULL REFERENCES records(record_id), name TEXT NOT NULL, shape TEXT NOT NULL,
    data BLOB NOT NULL);
"""
# `arrays` holds what figures need and scalars cannot carry (a thinned sample of draws, predictive
# surfaces on a grid, per-draw AUCs): float32, little-endian raw bytes with their shape as JSON.


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def check_readable(path: Path) -> None:
    """Raise BenchInputError unless `path` is absent (to be created) or a bench store we can read."""
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        existing = next((p for p in [parent, *parent.parents] if p.exists()), Path("."))
        if not existing.is_dir():
            raise BenchInputError(f"store {path}: {existing} is not a directory")
        return
    if path.is_dir():
        raise BenchInputError(f"store {path} is a directory; give a file path such as results/bench.sqlite")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            damage = [r[0] for r in con.execute("PRAGMA quick_check(1)")]  # every page's structure, O(size)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BenchInputError(f"store {path} is not a readable bench store ({exc})") from None
    if damage != ["ok"]:
        raise BenchInputError(f"store {path} is corrupt ({' '.join(' '.join(damage).split())[:120]}); restore it from a copy")
    if row is None or int(row[0]) != SCHEMA_VERSION:
        found = None if row is None else row[0]
        raise BenchInputError(f"store {path} has schema version {found}; this bench reads version {SCHEMA_VERSION}")


class Store:
    def __init__(self, path: Path | str, create: bool = False) -> None:
        self.path = Path(path)
        check_readable(self.path)
        if not self.path.exists():
            if not create:
                raise BenchInputError(f"store {self.path} does not exist; run `bench run` first or pass --store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=30)
        self.con.execute("PRAGMA foreign_keys = ON")
        if create:
            with self.con:
                self.con.executescript(SCHEMA)
                self.con.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing (the driver only) -------------------------------------------------------
    def add_environment(self, env_id: str, env: dict) -> None:
        """An environment a run, or a record (in its info's `env_id`, when not its run's), refers to."""
        with self.con:
            self.con.execute("INSERT OR IGNORE INTO environments VALUES (?, ?)", (env_id, json.dumps(env, default=str)))

    def begin_run(self, run_id: str, started_at: str, command: str, tag: str | None, env: dict, env_id: str) -> None:
        self.add_environment(env_id, env)
        with self.con:
            self.con.execute(
                "INSERT INTO runs (run_id, started_at, command, tag, env_id) VALUES (?, ?, ?, ?, ?)",
                (run_id, started_at, command, tag, env_id),
            )

    def finish_run(self, run_id: str, finished_at: str) -> None:
        with self.con:
            self.con.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (finished_at, run_id))

    def add_record(self, run_id: str, record: dict[str, Any]) -> int:
        """Append one cell's record, its metrics, timings and trace, in one transaction."""
        cell = record["cell"]
        with self.con:
            cursor = self.con.execute(
                "INSERT INTO records (run_id, cell_key, cell_hash, suite, problem, method, variant, seed, device,"
                " dtype, settings, status, reason, started_at, wall_s, info)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, record["key"], record["hash"], cell["suite"], cell["problem"], cell["method"],
                    cell["variant"], cell["seed"], cell["device"], cell["dtype"],
                    json.dumps(cell["settings"], sort_keys=True), record["status"], record["reason"],
                    record["started_at"], record["wall_s"], json.dumps(record["info"], default=str),
                ),  # fmt: skip
            )
            record_id = int(cursor.lastrowid)
            rows = [(record_id, name, "", _finite_or_none(v)) for name, v in record["metrics"].items()]
            for metric, values in record["components"].items():
                rows += [(record_id, metric, comp, _finite_or_none(v)) for comp, v in values.items()]
            self.con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", rows)
            self.con.executemany(
                "INSERT INTO timing_samples VALUES (?, ?, ?, ?)",
                [(record_id, phase, i, s) for phase, samples in record["timing"].items() for i, s in enumerate(samples)],
            )
            trace = record["trace"]
            self.con.executemany(
                "INSERT INTO traces VALUES (?, ?, ?)",
                [(record_id, step, _finite_or_none(loss)) for step, loss in zip(trace["step"], trace["loss"])],
            )
            self.con.executemany("INSERT INTO arrays VALUES (?, ?, ?, ?)", [
                (record_id, name, json.dumps(list(np.shape(values))), np.asarray(values, dtype="<f4").tobytes())
                for name, values in record.get("arrays", {}).items()
            ])  # fmt: skip
        return record_id

    def add_phase(self, record_id: int, phase: str, seconds: float) -> None:
        """One more entry in a stored record's info.phases (the driver's own store write, timed after it)."""
        with self.con:
            self.con.execute("UPDATE records SET info = json_set(COALESCE(info, '{}'), ?, ?) WHERE record_id = ?",
                             (f"$.phases.{phase}", float(seconds), record_id))  # fmt: skip

    # -- reading ----------------------------------------------------------------------------
    def finished_hashes(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT DISTINCT cell_hash FROM records WHERE status IN {RESUMABLE} AND cell_hash IN ({marks})"
            found |= {row[0] for row in self.con.execute(query, chunk)}
        return found

    def record_for_hash(self, cell_hash: str) -> dict[str, Any] | None:
        """The latest finished record with this hash, as the summary shows it."""
        row = self.con.execute(
            f"SELECT record_id, status, reason FROM records WHERE cell_hash = ? AND status IN {RESUMABLE}"
            " ORDER BY record_id DESC LIMIT 1",
            (cell_hash,),
        ).fetchone()
        if row is None:
            return None
        metrics = dict(self.con.execute("SELECT metric, value FROM metrics WHERE record_id = ? AND component = ''", (row[0],)))
        return {"record_id": row[0], "status": row[1], "reason": row[2], "metrics": metrics}


def load(path: Path | str, table: str = "tidy"):
    """One table of the store as a pandas DataFrame; "tidy" joins metrics to their cells."""
    import pandas as pd

    if table != "tidy" and table not in TABLES:
        raise BenchInputError(f"unknown table {table!r}; valid choices: tidy, {', '.join(TABLES)}")
    check_readable(Path(path))
    if not Path(path).exists():
        raise BenchInputError(f"store {path} does not exist")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if table == "tidy":
            query = (
                "SELECT r.record_id, r.run_id, ru.tag, r.suite, r.problem, r.method, r.variant, r.seed, r.device,"
                " r.dtype, r.status, r.reason, r.cell_key, m.metric, m.component, m.value"
                " FROM records r JOIN runs ru USING (run_id) LEFT JOIN metrics m USING (record_id)"
                " ORDER BY r.record_id"
            )
            return pd.read_sql_query(query, con)
        return pd.read_sql_query(f"SELECT * FROM {table}", con)
    finally:
        con.close()


def load_arrays(path: Path | str, record_id: int, prefix: str = "") -> dict[str, np.ndarray]:
    """The arrays stored with one record whose names start with `prefix` (empty for stores written
    before the table existed)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, shape, data FROM arrays WHERE record_id = ? AND substr(name, 1, ?) = ?",
                           (record_id, len(prefix), prefix)).fetchall()  # fmt: skip
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    return {name: np.frombuffer(data, dtype="<f4").reshape(json.loads(shape)) for name, shape, data in rows}


# Readers: every module that reads the store asks here (report, compare, history, plots).
LATEST_PER_CELL = "SELECT MAX(record_id) FROM records {where} GROUP BY cell_key"  # the latest record of each cell


def open_readonly(path: Path | str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def run_ids(path: Path | str) -> list[str]:
    """The runs that wrote records, oldest first."""
    con = open_readonly(path)
    try:
        return [r[0] for r in con.execute(
            "SELECT run_id FROM runs WHERE run_id IN (SELECT DISTINCT run_id FROM records) ORDER BY started_at, run_id")]  # fmt: skip
    finally:
        con.close()


def traces(path: Path | str, record_ids: list[int]) -> pd.DataFrame:
    """The stored (thinned) loss traces of these records: record_id, step, loss."""
    import pandas as pd

    con = open_readonly(path)
    try:
        marks = ",".join("?" * len(record_ids))
        return pd.read_sql_query(f"SELECT record_id, step, loss FROM traces WHERE record_id IN ({marks})", con,
                                 params=record_ids)  # fmt: skip
    finally:
        con.close()


def metric_history(path: Path | str, cell_key: str, metric: str, up_to_record_id: int, limit: int):
    """The `limit` latest ok values of one cell's metric at or before a record, with each record's
    environment (so a caller can keep one machine's): what compile time is gated against."""
    import pandas as pd

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return pd.read_sql_query(
            "SELECT r.record_id, m.value, e.environment FROM records r JOIN metrics m USING (record_id)"
            " JOIN runs USING (run_id) LEFT JOIN environments e USING (env_id)"
            " WHERE r.cell_key = ? AND r.status = 'ok' AND m.metric = ? AND m.component = '' AND r.record_id <= ?"
            " ORDER BY r.record_id DESC LIMIT ?",
            con,
            params=(cell_key, metric, int(up_to_record_id), int(limit)),
        )
    finally:
        con.close()


def latest_record_for_key(path: Path | str, cell_key: str) -> tuple[int, str, str] | None:
    """(record id, problem, status) of the latest record of a cell, or None if it has none."""
    con = open_readonly(path)
    try:
        row = con.execute("SELECT record_id, problem, status FROM records WHERE cell_key = ? ORDER BY record_id DESC LIMIT 1",
                          (cell_key,)).fetchone()  # fmt: skip
    finally:
        con.close()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def cell_keys(path: Path | str) -> list[str]:
    con = open_readonly(path)
    try:
        return [row[0] for row in con.execute("SELECT DISTINCT cell_key FROM records ORDER BY cell_key")]
    finally:
        con.close()


def timing_rows(path: Path | str):
    """Every ok record's timed repeats with its cell and run: the rounds of a re-measurement."""
    import pandas as pd

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return pd.read_sql_query(
            "SELECT r.run_id, ru.tag, r.suite, r.problem, r.method, r.variant, r.seed, r.device, r.dtype, t.repeat, t.seconds,"
            " (SELECT value FROM metrics m WHERE m.record_id = r.record_id AND m.metric = 'steps'"
            "  AND m.component = '') AS steps"
            " FROM records r JOIN runs ru USING (run_id) JOIN timing_samples t USING (record_id)"
            " WHERE r.status = 'ok' AND t.phase = 'run_s'",
            con,
        )
    finally:
        con.close()


def component_metrics(path: Path | str, metric: str, record_ids: list[int]):
    """Per-component values of one metric for these records: record_id, component, value."""
    import pandas as pd

    con = open_readonly(path)
    try:
        marks = ",".join("?" * len(record_ids))
        return pd.read_sql_query(f"SELECT record_id, component, value FROM metrics WHERE metric = ? "
                                 f"AND component != '' AND record_id IN ({marks})", con, params=[metric, *record_ids])  # fmt: skip
    finally:
        con.close()
