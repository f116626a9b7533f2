"""Where a cell's wall time goes: the harness's own cost made visible, phase by phase.

Every record carries `info.phases`, seconds per phase: `start` (process start and imports, as the
executor sees it), `imports` (the method's framework, inside the worker), `data`, `setup` (model
build and initialisation inside the fit), `compile`, `repeats` (all timed repeats), `final_draws`
(drawing and log q after the clock stopped), `scoring`, `checkpoints` and `store_write` (the
driver). Clocks are `time.monotonic()`, one system-wide clock on Linux, so a parent and its child
can subtract each other's readings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.records.record import Record


def fit_phases(
    fit_start: float, fit_end: float, compile_s: float, run_s: Iterable[float], repeats_end: float | None = None
) -> dict[str, float]:
    """Split a fit's wall time into setup, compile, timed repeats and final draws (from when the
    repeats ended, FitResult.repeats_end, to the end of the fit)."""
    repeats = float(sum(run_s))
    draws = max(0.0, fit_end - (fit_end if repeats_end is None else repeats_end))
    setup = max(0.0, (fit_end - fit_start) - compile_s - repeats - draws)
    return {"setup": setup, "compile": float(compile_s), "repeats": repeats, "final_draws": draws}


def measured_work(record: Record) -> float:
    """compile plus every timed repeat: the inference a record measured."""
    timing = record.timing
    return float(sum(timing.get("compile_s", []) or []) + sum(timing.get("run_s", []) or []))


def summary_line(work: float, wall: float) -> str:
    ratio = f"ratio {wall / work:.2f}" if work >= 0.05 else "no measured work to compare"
    return f"measured work (compile + repeats) {work:.1f} s of wall {wall:.1f} s ({ratio})"
