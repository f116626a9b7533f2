"""The record that crosses the process boundary: one typed shape, the JSON records always had."""

import dataclasses
import json

import numpy as np
import pytest

from bench.records.cells import Cell
from bench.records.record import Record

CELL = Cell(
    "toy", "coinflip", "numpyro.svi", "auto_normal", 2, "cpu", "float32", 3, 100, {"steps": 50}, threads=2, hash="h2"
)


def full_record() -> Record:
    return Record(
        CELL,
        "ok",
        "scored against a reference that failed its gates",
        metrics={"elbo": -14.8, "steps": 50.0},
        components={"sd_ratio": {"p": 1.01}},
        timing={"compile_s": [1.5], "run_s": [0.2, 0.3, 0.25]},
        trace={"step": [1, 2], "loss": [3.0, 2.5]},
        info={"phases": {"start": 0.4}, "threads": {"setting": 2}},
        started_at="2026-12-01T10:00:00+00:00",
        wall_s=4.2,
        arrays={"draws:p": [[0.5, 0.6]]},
        environment={"cpu": "Worker CPU"},
    )


def test_a_record_survives_its_json_unchanged():
    record = full_record()
    assert Record.from_json(record.to_json()) == record
    bare = Record(CELL, "timeout", "exceeded the 5 s timeout")
    assert Record.from_json(bare.to_json()) == bare
    assert "arrays" not in json.loads(bare.to_json()) and "environment" not in json.loads(bare.to_json())


def test_numpy_values_become_json_numbers():
    record = Record(CELL, "ok", metrics={"elbo": np.float32(-1.5)}, arrays={"draws:p": np.ones((2, 3), "float32")})
    loaded = Record.from_json(record.to_json())
    assert loaded.metrics == {"elbo": -1.5} and loaded.arrays == {"draws:p": [[1.0] * 3] * 2}


def test_a_record_written_as_a_plain_dict_loads_and_writes_back_the_same():
    """The worker's record.json before the type: key and hash beside the cell, arrays only when
    scored, the environment only from a cluster's worker; a cell field this version lacks is dropped."""
    old = {
        "key": CELL.key,
        "hash": "h2",
        "cell": {**json.loads(CELL.to_json()), "retired_knob": 1},
        "status": "ok",
        "reason": "",
        "metrics": {"elbo": -14.8},
        "components": {},
        "timing": {"compile_s": [1.0], "run_s": [0.5]},
        "trace": {"step": [], "loss": []},
        "info": {"phases": {"imports": 1.0}},
        "started_at": "2026-11-30T09:00:00+00:00",
        "wall_s": 2.0,
        "arrays": {"draws:p": [0.1, 0.2]},
        "environment": {"cpu": "x"},
    }
    record = Record.from_json(json.dumps(old))
    assert (record.cell, record.key, record.hash, record.status, record.wall_s) == (CELL, CELL.key, "h2", "ok", 2.0)
    assert record.info == {"phases": {"imports": 1.0}} and record.arrays == {"draws:p": [0.1, 0.2]}
    old["cell"].pop("retired_knob")
    assert json.loads(record.to_json()) == old
    assert record.to_json() == json.dumps(old)  # the same text: keys in the same order


def test_update_sets_only_record_fields():
    record = Record(CELL, "error")
    record.update(status="diverged", reason="loss became non-finite at step 3")
    assert (record.status, record.reason) == ("diverged", "loss became non-finite at step 3")
    with pytest.raises(AttributeError, match="no field 'statsu'"):
        record.update(statsu="ok")
    assert {f.name for f in dataclasses.fields(Record)} >= {"cell", "status", "reason", "metrics", "info", "wall_s"}
