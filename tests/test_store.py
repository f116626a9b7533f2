"""The SQLite store: schema-versioned, one transaction per record, tidy loads, resumable."""

import sqlite3

import pytest

from bench.records.cells import Cell
from bench.spec.errors import BenchInputError
from bench.store import SCHEMA_VERSION, Store, check_readable, load
from bench.records.record import Record


def record(status="ok", seed=0, hash_="h0"):
    cell = Cell("toy", "coinflip", "testing.exact", "", seed, "cpu", "float32", 2, 100, {"steps": 3}, hash=hash_)
    rec = Record(cell, status, "" if status == "ok" else "boom")
    rec.metrics = {"elbo": -14.8, "run_s": 0.5, "khat": float("nan")}
    rec.components = {"sd_ratio": {"f": 1.01}}
    rec.timing = {"compile_s": [1.0], "run_s": [0.4, 0.5]}
    rec.trace = {"step": [1, 2, 3], "loss": [3.0, 2.0, 1.0]}
    return rec


def test_records_round_trip_into_tidy_tables(tmp_path):
    path = tmp_path / "sub" / "bench.sqlite"
    with Store(path, create=True) as store:
        store.begin_run("r1", "now", "bench run", "nightly", {"cpu": "x"}, "e1")
        store.add_record("r1", record())
        store.add_record("r1", record("error", seed=1, hash_="h1"))
        store.finish_run("r1", "later")
        assert store.finished_hashes(["h0", "h1", "h2"]) == {"h0"}  # errors are re-run
    tidy = load(path)
    ok = tidy[tidy["status"] == "ok"]
    assert set(ok["metric"]) == {"elbo", "run_s", "khat", "sd_ratio"}
    assert ok.loc[ok["metric"] == "elbo", "value"].tolist() == [-14.8]
    assert ok.loc[ok["metric"] == "khat", "value"].isna().all()  # NaN is stored as NULL, not dropped
    assert (tidy["tag"] == "nightly").all()
    assert len(load(path, "timing_samples")) == 6 and len(load(path, "traces")) == 6
    assert set(tidy[tidy["status"] == "error"]["reason"]) == {"boom"}


def test_unreadable_stores_are_refused(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(BenchInputError, match="not a readable bench store"):
        check_readable(garbage)
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(BenchInputError, match="not a readable bench store .no such table: meta"):
        check_readable(foreign)
    future = tmp_path / "future.sqlite"
    con = sqlite3.connect(future)
    con.executescript("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema_version', '99');")
    con.close()
    with pytest.raises(BenchInputError, match="schema version 99; this bench reads version 1"):
        check_readable(future)
    with pytest.raises(BenchInputError, match="is a directory"):
        check_readable(tmp_path)
    with pytest.raises(BenchInputError, match="does not exist"):
        Store(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_schema_version_is_recorded(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path, create=True).close()
    value = sqlite3.connect(path).execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(value) == SCHEMA_VERSION


def test_export_writes_every_table(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "s.sqlite"
    with Store(path, create=True) as store:
        store.begin_run("r1", "now", "bench run", None, {"cpu": "x"}, "e1")
        store.add_record("r1", record())
    result = subprocess.run(
        [sys.executable, "-m", "bench", "export", "--store", str(path), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "x").iterdir()} >= {"tidy.csv", "records.csv", "metrics.csv", "traces.csv"}


def test_non_finite_numbers_in_info_are_stored_as_json_null(tmp_path):
    """A tuned search whose candidate diverged keeps NaN among its seconds: the record is stored as
    strict JSON, so SQLite's json functions (and every query of `info`) read it."""
    import numpy as np

    path = tmp_path / "bench.sqlite"
    rec = record()
    rec.info = {"tuning": {"elbos": [-1.0, None], "notes": {"candidate_seconds": [0.5, float("nan"), np.float32(2)]}}}
    with Store(path, create=True) as store:
        store.begin_run("r1", "now", "bench run", None, {"cpu": "x"}, "e1")
        store.add_record("r1", rec)
    con = sqlite3.connect(path)
    seconds = con.execute("SELECT json_extract(info, '$.tuning.notes.candidate_seconds') FROM records").fetchone()[0]
    assert seconds == "[0.5,null,2.0]"
