"""The database: its schema, the check that a file is a readable store, and `Store`, the driver's
writer (records, runs, environments, cell claims).

Tidy long tables (runs, environments, records, metrics, timing samples, traces); one
transaction per record, so killing a run mid-grid leaves every finished cell readable.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.spec.errors import BenchInputError

if TYPE_CHECKING:
    from bench.records.record import Record

SCHEMA_VERSION = 1
TABLES = ("runs", "environments", "records", "metrics", "timing_samples", "traces", "arrays", "run_cells")
RESUMABLE = ("ok", "diverged", "unsupported")  # outcomes a re-run with the same hash need not repeat
StoreError = sqlite3.Error  # a store SQLite could not read or write (a full disk, say)

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
CREATE TABLE IF NOT EXISTS run_cells (
    run_id TEXT NOT NULL REFERENCES runs(run_id), record_id INTEGER NOT NULL REFERENCES records(record_id));
CREATE TABLE IF NOT EXISTS arrays (
    record_id INTEGER NOT NULL REFERENCES records(record_id), name TEXT NOT NULL, shape TEXT NOT NULL,
    data BLOB NOT NULL);
"""
# `run_cells` holds the finished records a run reused instead of re-running them: they belong to
# that run (its tag, its comparisons) as much as the records it wrote. Older stores lack the table
# until a run opens them for writing; readers treat it as empty.
# `arrays` holds what figures need and scalars cannot carry (a thinned sample of draws, predictive
# surfaces on a grid, per-draw AUCs): float32, little-endian raw bytes with their shape as JSON.
CLAIMS_SCHEMA = """CREATE TABLE IF NOT EXISTS claims (
    cell_hash TEXT PRIMARY KEY, run_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    claimed_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL)"""  # bench.execution.claims: cells a live run holds


def _json_ready(value: Any) -> Any:
    """NaN and infinities become null (JSON has neither: SQLite's json functions refuse a text with
    them, and every query of `info` would fail); numpy scalars and arrays become plain values."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(value: Any) -> str:
    """A record's `info` as strict JSON (non-finite numbers as null; anything else unknown as its str)."""
    return json.dumps(_json_ready(value), default=str, allow_nan=False)


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
        con = open_readonly(path)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            damage = [r[0] for r in con.execute("PRAGMA quick_check(1)")]  # every page's structure, O(size)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BenchInputError(f"store {path} is not a readable bench store ({exc})") from None
    if damage != ["ok"]:
        raise BenchInputError(
            f"store {path} is corrupt ({' '.join(' '.join(damage).split())[:120]}); restore it from a copy"
        )
    if row is None or int(row[0]) != SCHEMA_VERSION:
        found = None if row is None else row[0]
        raise BenchInputError(f"store {path} has schema version {found}; this bench reads version {SCHEMA_VERSION}")


def create_atomically(path: Path) -> None:
    """Make a complete empty store at `path` unless one appears there first.

    Built in a private file and hard-linked into place, so a second run starting on the same new
    path sees either no file or a whole store, never one half-made (the link fails if it exists).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    private = path.with_name(f".{path.name}.{os.getpid()}.new")
    con = sqlite3.connect(private)
    try:
        with con:
            con.executescript(SCHEMA)
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    finally:
        con.close()
    try:
        os.link(private, path)
    except FileExistsError:
        pass  # another run made it first: theirs is as good as ours
    finally:
        private.unlink(missing_ok=True)


class Store:
    def __init__(self, path: Path | str, create: bool = False) -> None:
        self.path = Path(path)
        check_readable(self.path)
        if not self.path.exists():
            if not create:
                raise BenchInputError(f"store {self.path} does not exist; run `bench run` first or pass --store")
            create_atomically(self.path)
        self.con = sqlite3.connect(self.path, timeout=30)
        self.con.execute("PRAGMA foreign_keys = ON")
        if create:
            with self.con:
                self.con.executescript(SCHEMA)  # tables added since the store was made

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

    def add_reused(self, run_id: str, record_ids: Iterable[int]) -> None:
        """The finished records a run reused: part of the run for its tag and its comparisons."""
        with self.con:
            self.con.executemany("INSERT INTO run_cells VALUES (?, ?)", [(run_id, int(r)) for r in record_ids])

    def reused_record_ids(self, hashes: Iterable[str]) -> list[int]:
        """The latest finished record of each of these hashes (what a run reuses)."""
        ids = []
        for cell_hash in dict.fromkeys(hashes):
            row = self.con.execute(
                f"SELECT MAX(record_id) FROM records WHERE cell_hash = ? AND status IN {RESUMABLE}", (cell_hash,)
            ).fetchone()
            if row and row[0] is not None:
                ids.append(int(row[0]))
        return ids

    def tag_covers(self, tag: str | None, record_ids: Iterable[int], other_than: str = "") -> bool:
        """Whether runs tagged `tag` (untagged runs, for None), other than run `other_than`, already
        hold all of these records (written or reused)."""
        runs = "SELECT run_id FROM runs WHERE tag IS ? AND run_id != ?"
        held = {
            row[0]
            for row in self.con.execute(
                f"SELECT record_id FROM records WHERE run_id IN ({runs}) UNION SELECT record_id FROM run_cells WHERE run_id IN ({runs})",
                (tag, other_than, tag, other_than),
            )
        }
        return set(record_ids) <= held

    def drop_run(self, run_id: str) -> None:
        """Forget a run that wrote nothing and reused nothing new (a re-run that changed nothing)."""
        with self.con:
            self.con.execute("DELETE FROM run_cells WHERE run_id = ?", (run_id,))
            if not self.con.execute("SELECT 1 FROM records WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
                self.con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def finish_run(self, run_id: str, finished_at: str) -> None:
        with self.con:
            self.con.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (finished_at, run_id))

    def add_record(self, run_id: str, record: Record) -> int:
        """Append one cell's record, its metrics, timings and trace, in one transaction."""
        cell = record.cell
        with self.con:
            cursor = self.con.execute(
                "INSERT INTO records (run_id, cell_key, cell_hash, suite, problem, method, variant, seed, device,"
                " dtype, settings, status, reason, started_at, wall_s, info)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    record.key,
                    record.hash,
                    cell.suite,
                    cell.problem,
                    cell.method,
                    cell.variant,
                    cell.seed,
                    cell.device,
                    cell.dtype,
                    json.dumps(cell.settings, sort_keys=True),
                    record.status,
                    record.reason,
                    record.started_at,
                    record.wall_s,
                    json_text(record.info),
                ),
            )
            record_id = int(cursor.lastrowid)
            rows = [(record_id, name, "", _finite_or_none(v)) for name, v in record.metrics.items()]
            for metric, values in record.components.items():
                rows += [(record_id, metric, comp, _finite_or_none(v)) for comp, v in values.items()]
            self.con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", rows)
            self.con.executemany(
                "INSERT INTO timing_samples VALUES (?, ?, ?, ?)",
                [(record_id, phase, i, s) for phase, samples in record.timing.items() for i, s in enumerate(samples)],
            )
            trace = record.trace
            self.con.executemany(
                "INSERT INTO traces VALUES (?, ?, ?)",
                [(record_id, step, _finite_or_none(loss)) for step, loss in zip(trace["step"], trace["loss"])],
            )
            self.con.executemany(
                "INSERT INTO arrays VALUES (?, ?, ?, ?)",
                [
                    (record_id, name, json.dumps(list(np.shape(values))), np.asarray(values, dtype="<f4").tobytes())
                    for name, values in record.arrays.items()
                ],
            )
        return record_id

    def add_phase(self, record_id: int, phase: str, seconds: float) -> None:
        """One more entry in a stored record's info.phases (the driver's own store write, timed after it)."""
        with self.con:
            self.con.execute(
                "UPDATE records SET info = json_set(COALESCE(info, '{}'), ?, ?) WHERE record_id = ?",
                (f"$.phases.{phase}", float(seconds), record_id),
            )

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

    # -- claims (bench.execution.claims decides who holds a cell; the SQL is here) -------------------------
    @contextmanager
    def claiming(self) -> Iterator[None]:
        """One write transaction for claiming (BEGIN IMMEDIATE: two drivers claim one after the other)."""
        self.con.execute(CLAIMS_SCHEMA)
        self.con.commit()
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def claim_of(self, cell_hash: str) -> tuple[str, int, str, str] | None:
        """(run id, pid, host, heartbeat) of the claim on a cell, or None."""
        return self.con.execute(
            "SELECT run_id, pid, host, heartbeat_at FROM claims WHERE cell_hash = ?", (cell_hash,)
        ).fetchone()

    def put_claim(self, cell_hash: str, run_id: str, pid: int, host: str, stamp: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)", (cell_hash, run_id, pid, host, stamp, stamp)
        )

    def drop_claims(self, run_id: str, cell_hash: str | None = None, heartbeat_at: str = "") -> None:
        """Drop this run's claim on one cell (refreshing its other claims' heartbeat), or on all."""
        with self.con:
            if cell_hash is None:
                self.con.execute("DELETE FROM claims WHERE run_id = ?", (run_id,))
            else:
                self.con.execute("DELETE FROM claims WHERE run_id = ? AND cell_hash = ?", (run_id, cell_hash))
                self.con.execute("UPDATE claims SET heartbeat_at = ? WHERE run_id = ?", (heartbeat_at, run_id))


def open_readonly(path: Path | str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
