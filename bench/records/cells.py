"""A cell: one (problem, method variant, seed, device, settings), with a stable key and a content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cell:
    suite: str
    problem: str
    method: str
    variant: str
    seed: int
    device: str
    dtype: str
    repeats: int
    draws: int
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    unsupported: str | None = None  # known before running: recorded without a process
    failed: str | None = None  # known to fail before running (a failed translation check): an error row, no process
    reference: str = ""  # provenance file of the stored MCMC reference scored against ("" for none or exact)
    threads: int = 1  # every framework's thread count in the worker (bench.runtime.threads); part of the hash
    hash: str = ""

    @property
    def label(self) -> str:
        return f"{self.method}:{self.variant}" if self.variant else self.method

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.problem}|{self.label}|seed={self.seed}|{self.device}|{self.dtype}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cell:
        return cls(**json.loads(text))


def content_hash(cell: Cell, fingerprints: dict[str, Any]) -> str:
    """Hash of everything that determines a cell's result: spec, data, settings, versions, code."""
    payload = {"cell": {k: v for k, v in asdict(cell).items() if k != "hash"}, **fingerprints}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
