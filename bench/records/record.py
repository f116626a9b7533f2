"""A cell's record: the one shape that crosses the worker -> executor -> driver -> store boundary.

The worker fills it, writes it as JSON (`to_json`) for its executor, a Dask task sends the same
text back to the driver, and the driver hands the parsed `Record` (`from_json`) to the store. The
JSON keeps the keys records always had (`key` and `hash` beside the cell), so a record file
written before this type existed loads unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import numpy as np

from bench.records.cells import Cell
from bench.records.reasons import one_line

STATUSES = ("ok", "diverged", "error", "timeout", "oom", "unsupported", "skipped")
CELL_FIELDS = frozenset(f.name for f in dataclasses.fields(Cell))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _empty_timing() -> dict[str, list[float]]:
    return {"compile_s": [], "run_s": []}


def _empty_trace() -> dict[str, list]:
    return {"step": [], "loss": []}


@dataclass
class Record:
    """What one cell's run produced; a new record (`Record(cell, status, reason)`) is empty."""

    cell: Cell
    status: str  # one of STATUSES
    reason: str = ""  # one line (clip_reason); the full text goes to info["reason_full"]
    metrics: dict[str, float] = field(default_factory=dict)  # aggregate metrics by name
    components: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> component -> value
    timing: dict[str, list[float]] = field(default_factory=_empty_timing)  # compile_s, run_s samples
    trace: dict[str, list] = field(default_factory=_empty_trace)  # thinned loss trace: step, loss
    info: dict[str, Any] = field(default_factory=dict)  # phases, threads, reference, executor, host...
    started_at: str = field(default_factory=now)
    wall_s: float = 0.0
    arrays: dict[str, Any] = field(default_factory=dict)  # what figures need: draws, surfaces, AUCs
    environment: dict[str, Any] | None = None  # the worker's, where not the driver's (a cluster's)

    @property
    def key(self) -> str:
        return self.cell.key

    @property
    def hash(self) -> str:
        return self.cell.hash

    def update(self, **fields: Any) -> None:
        """Set several fields at once (an outcome's status and reason, mostly)."""
        for name, value in fields.items():
            if name not in RECORD_FIELDS:
                raise AttributeError(f"a record has no field {name!r}")
            setattr(self, name, value)

    def clip_reason(self) -> Record:
        """This record with its reason cut to one line; a longer original is kept in info."""
        reason = str(self.reason or "")
        short = one_line(reason)
        if short != reason:
            self.info = {**self.info, "reason_full": reason}
            self.reason = short
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "hash": self.hash, "cell": json.loads(self.cell.to_json())}
        for name in ("status", "reason", "metrics", "components", "timing", "trace", "info", "started_at", "wall_s"):
            out[name] = getattr(self, name)
        if self.arrays:
            out["arrays"] = self.arrays
        if self.environment is not None:
            out["environment"] = self.environment
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """A record from its JSON object; `key` and `hash` follow from the cell, and cell fields
        this version does not know are dropped."""
        cell = Cell(**{k: v for k, v in data["cell"].items() if k in CELL_FIELDS})
        return cls(cell=cell, **{k: v for k, v in data.items() if k in RECORD_FIELDS and k != "cell"})

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls.from_dict(json.loads(text))


RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(Record))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.tolist()  # a numpy scalar as the matching Python number
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
