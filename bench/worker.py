"""Inside a cell's own process: build data, fit, score, and write one JSON record.

Run as `python -m bench.worker CELL_JSON RESULT_JSON`. The executor sets the device, dtype and
thread environment before this process starts, so no framework ever sees the wrong settings.
Any failure becomes a record with a status from the closed set and a one-line reason.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from bench.cells import Cell
from bench.errors import Unsupported
from bench.gpu import framework_of, peak_memory

STATUSES = ("ok", "diverged", "error", "timeout", "oom", "unsupported", "skipped")
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "CUDA out of memory", "Out of memory")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def empty_record(cell: Cell, status: str, reason: str = "") -> dict[str, Any]:
    return {
        "key": cell.key,
        "hash": cell.hash,
        "cell": json.loads(cell.to_json()),
        "status": status,
        "reason": reason,
        "metrics": {},
        "components": {},
        "timing": {"compile_s": [], "run_s": []},
        "trace": {"step": [], "loss": []},
        "info": {},
        "started_at": now(),
        "wall_s": 0.0,
    }


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fit_and_score(cell: Cell, record: dict[str, Any]) -> None:
    from backends import get_method
    from bench import scoring
    from bench.checkpoints import checkpoint_arrays
    from bench.figure_data import figure_arrays
    from bench.fitting import FitContext
    from suites import get_problem

    problem = get_problem(cell.problem)
    method = get_method(cell.method)
    data = problem.make_data(cell.seed)
    if not np.isfinite(problem.log_joint(problem.central_point(), data)):
        record.update(status="error", reason="pre-flight: the spec's log density is not finite at the initial point")
        return
    context = FitContext(seed=cell.seed, device=cell.device, dtype=cell.dtype, repeats=cell.repeats, draws=cell.draws)
    fit = method.load_fit()(problem, data, cell.settings, context)
    memory = peak_memory(cell.device, framework_of(method.requires))  # before scoring allocates anything

    record["timing"] = {"compile_s": [fit.compile_s], "run_s": list(fit.run_s)}
    record["trace"] = scoring.thin_trace(fit.losses)
    record["info"].update(fit.info)
    bad_step = scoring.first_nonfinite_step(fit.losses)
    if bad_step is not None:
        record["metrics"] = {**scoring.cost_metrics(fit), **memory}
        record.update(status="diverged", reason=f"loss became non-finite at step {bad_step}")
        return
    if any(not np.all(np.isfinite(v)) for v in fit.draws.values()):
        record["metrics"] = {**scoring.cost_metrics(fit), **memory}
        record.update(status="diverged", reason="posterior draws contain non-finite values")
        return
    if problem.config.get("cost_only"):  # a timing study's problem (suites.scale): no full-data ELBO
        from bench.scale import cost_only_metrics

        record["metrics"] = {**cost_only_metrics(problem, data, fit, cell.seed), **memory}
        record["status"] = "ok"
        return
    reference = _reference(problem, data, cell)
    if reference is not None:
        record["info"]["reference"] = {"kind": reference.kind, "verdict": reference.verdict, **reference.provenance}
        if reference.verdict != "ok":
            record["reason"] = f"scored against a reference that {reference.verdict} its gates"
    scored = scoring.score(problem, data, fit, reference, cell.seed)
    record["metrics"], record["components"] = {**scored["metrics"], **memory}, scored["components"]
    record["arrays"] = figure_arrays(problem, data, fit.draws)
    run_s = float(np.median(fit.run_s))
    record["arrays"].update(checkpoint_arrays(problem, data, fit.checkpoints, run_s, reference, cell.seed))
    record["status"] = "ok"


def _reference(problem, data, cell: Cell):
    """The exact reference where the problem has one, else the stored MCMC reference the plan chose."""
    if problem.reference is not None:
        return problem.reference(data)
    if not cell.reference:
        return None
    from bench import reference_store

    stored = reference_store.find(Path(cell.reference).parent.parent, problem.name, cell.seed)
    if stored is None:
        raise FileNotFoundError(f"reference {cell.reference} vanished after planning")
    reference_store.require_fresh(stored, problem, data)
    return reference_store.to_reference(stored, problem)


def run_cell(cell: Cell) -> dict[str, Any]:
    record = empty_record(cell, "error")
    start = perf_counter()
    try:
        if cell.unsupported:
            raise Unsupported(cell.unsupported)
        _fit_and_score(cell, record)
    except Unsupported as exc:
        record.update(status="unsupported", reason=str(exc))
    except MemoryError as exc:
        record.update(status="oom", reason=one_line(exc) or "MemoryError")
    except Exception as exc:  # any failure is a row with its reason, never a lost cell
        out_of_memory = any(marker in str(exc) for marker in OOM_MARKERS)
        record.update(status="oom" if out_of_memory else "error", reason=one_line(exc))
        record["info"]["traceback"] = traceback.format_exc()[-4000:]
        traceback.print_exc()
    record["wall_s"] = perf_counter() - start
    return record


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, default=_json_default))
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.tolist()  # a numpy scalar as the matching Python number
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main(argv: list[str]) -> int:
    cell = Cell.from_json(Path(argv[0]).read_text())
    record = run_cell(cell)
    write_json_atomic(Path(argv[1]), record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
