"""Inside a cell's own process: build data, fit, score, and write one JSON record.

Run as `python -m bench.execution.worker CELL_JSON RESULT_JSON`. The executor sets the device, dtype and
thread environment before this process starts, so no framework ever sees the wrong settings.
Any failure becomes a record with a status from the closed set and a one-line reason.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from time import monotonic, perf_counter

import numpy as np

from bench.records import reasons
from bench.records.cells import Cell
from bench.records.record import Record
from bench.spec.errors import Unsupported
from bench.runtime.gpu import peak_memory


def _fit_and_score(cell: Cell, record: Record) -> None:
    from bench.runtime import compile_cache
    from bench.execution import phases as clock

    phases = record.info.setdefault("phases", {})
    tick = monotonic()

    def lap(name: str) -> None:
        nonlocal tick
        phases[name] = phases.get(name, 0.0) + monotonic() - tick
        tick = monotonic()

    from backends import get_method, runtime_of
    from bench import scoring
    from bench.runtime import threads
    from bench.scoring.accuracy import cost_to_accuracy
    from bench.scoring.checkpoints import checkpoint_arrays, reference_quality
    from bench.scoring.figure_data import figure_arrays
    from bench.spec.fitting import FitContext
    from suites import get_problem

    problem = get_problem(cell.problem)
    method = get_method(cell.method)
    framework = runtime_of(cell.method).framework
    fit_function = method.load_fit()
    lap("imports")
    data = problem.make_data(cell.seed)
    if not np.isfinite(problem.log_joint(problem.central_point(), data)):
        record.update(status="error", reason="pre-flight: the spec's log density is not finite at the initial point")
        return
    context = FitContext(seed=cell.seed, device=cell.device, dtype=cell.dtype, repeats=cell.repeats, draws=cell.draws)
    lap("data")
    threads.configure_loaded(cell.threads)  # the backend is imported, nothing has run yet
    cache = compile_cache.Watch(framework)
    cache.start()
    fit = fit_function(problem, data, method.make_settings(cell.settings), context)
    phases.update(clock.fit_phases(tick, monotonic(), fit.compile_s, fit.run_s, fit.repeats_end))
    record.info.update(cache.verdict())
    record.info["threads"] = threads.report()
    memory = peak_memory(cell.device, framework.name)  # before scoring allocates anything
    tick = monotonic()

    record.timing = {"compile_s": [fit.compile_s], "run_s": list(fit.run_s)}
    record.trace = scoring.thin_trace(fit.losses)
    record.info.update(fit.info)
    bad_step = scoring.first_nonfinite_step(fit.losses)
    if bad_step is not None:
        record.metrics = {**scoring.cost_metrics(fit), **memory}
        record.update(status="diverged", reason=f"loss became non-finite at step {bad_step}")
        return
    if any(not np.all(np.isfinite(v)) for v in fit.draws.values()):
        record.metrics = {**scoring.cost_metrics(fit), **memory}
        record.update(status="diverged", reason="posterior draws contain non-finite values")
        return
    if problem.config.get("cost_only"):  # a timing study's problem (suites.scale): no full-data ELBO
        from bench.scoring.fit_metrics import cost_only_metrics

        record.metrics = {**cost_only_metrics(problem, data, fit, cell.seed), **memory}
        record.status = "ok"
        return
    reference = _reference(problem, data, cell)
    lap("data")
    if reference is not None:
        record.info["reference"] = {"kind": reference.kind, "verdict": reference.verdict, **reference.provenance}
        if reference.verdict != "ok":
            record.reason = f"scored against a reference that {reference.verdict} its gates"
    scored = scoring.score(problem, data, fit, reference, cell.seed, cell.settings.get("schedule", "constant"))
    record.metrics, record.components = {**scored["metrics"], **memory}, scored["components"]
    if not record.reason:  # a fit that did not converge says so beside its numbers
        from bench.scoring.convergence import reason as convergence_reason

        record.reason = convergence_reason(record.metrics)
    record.arrays = figure_arrays(problem, data, fit.draws, fit.chains, fit.sample_stats)
    lap("scoring")
    run_s = float(np.median(fit.run_s))
    arrays = checkpoint_arrays(problem, data, fit.checkpoints, run_s, reference, cell.seed, _evaluations(fit))
    record.arrays.update(arrays)
    target = reference_quality(problem, data, reference, cell.seed) if arrays else None
    if target is not None:
        record.metrics["quality_ref"] = target
    record.metrics.update(cost_to_accuracy(problem.task, arrays, target))
    lap("checkpoints")
    record.status = "ok"


def _evaluations(fit) -> float | None:
    """The run's gradient evaluations; a sampler without gradients (random-walk MH) counts its
    log-density evaluations instead, one per chain and iteration."""
    if fit.grad_evals is not None:
        return float(fit.grad_evals)
    if fit.chains and fit.steps:
        return float(fit.steps * fit.chains)
    return None


def _reference(problem, data, cell: Cell):
    """The exact reference where the problem has one, else the stored MCMC reference the plan chose."""
    if problem.reference is not None:
        return problem.reference(data)
    if not cell.reference:
        return None
    from bench.references import store as reference_store

    stored = reference_store.find(Path(cell.reference).parent.parent, problem.name, cell.seed)
    if stored is None:
        raise FileNotFoundError(f"reference {cell.reference} vanished after planning")
    reference_store.require_fresh(stored, problem, data)
    return reference_store.to_reference(stored, problem)


def machine_load() -> dict[str, float]:
    """The 1-minute load average and the core count: the regression gate calls a cell measured
    with more runnable processes than cores `noisy`, not a regression."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return {}
    return {"load_1m": float(load), "cores": float(os.cpu_count() or 1)}


def run_cell(cell: Cell) -> Record:
    record = Record(cell, "error")
    load = machine_load()
    start = perf_counter()
    try:
        if cell.failed:
            record.update(status="error", reason=cell.failed)
            record.wall_s = perf_counter() - start
            return record.clip_reason()
        if cell.unsupported:
            raise Unsupported(cell.unsupported)
        _fit_and_score(cell, record)
    except Unsupported as exc:
        record.update(status="unsupported", reason=str(exc))
    except Exception as exc:  # any failure is a row with its reason, never a lost cell
        # MemoryError is an Exception too; non-finite numbers raised by a library are `diverged`
        record.update(status=reasons.classify(exc), reason=reasons.exception_text(exc))
        record.info["traceback"] = traceback.format_exc()[-4000:]
        traceback.print_exc()
    record.metrics.update(load)
    record.wall_s = perf_counter() - start
    return record.clip_reason()


def write_json_atomic(path: Path, record: Record) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    from bench.execution.lifecycle import die_with_parent

    die_with_parent(Path(argv[0]).parent)  # a killed driver takes this worker and its folder with it
    cell = Cell.from_json(Path(argv[0]).read_text())
    record = run_cell(cell)
    write_json_atomic(Path(argv[1]), record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
