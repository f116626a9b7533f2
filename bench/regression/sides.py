"""Regression gate: load the two sides of a comparison and compare them cell by cell.

The rules live in bench.regression.gate (`gate.compare`; seeds matched, never pooled): speed by Mann-Whitney U on one
seed's timed repeats plus a minimum effect that the best repeat must also reach, with
measurements under load or with scattered repeats called `noisy`; quality against k combined
standard errors; compile time against its own history. Cells measured on different machines
(CPU or GPU model) are never compared. bench.regression.confirm re-measures what the gate flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench.scoring.metrics import METRICS as CATALOGUE
from bench.spec.errors import BenchInputError
from bench import store as stored

# The gated metrics: metric -> (kind, True when higher is better), from the catalogue.
GATED = ("run_s", "steps_per_s", "compile_s", "elbo", "std_mean_err_max", "auc", "accuracy", "lpd", "rmse")
METRICS: dict[str, tuple[str, bool]] = {name: (CATALOGUE[name].kind, CATALOGUE[name].higher_is_better) for name in GATED}
GROUP = ["suite", "problem", "method", "device", "dtype"]
VERDICTS = ("regression", "improvement", "noisy", "inconclusive", "unchanged", "not comparable")
# quality metric -> the metric holding its standard error (where the worker stores one)
STANDARD_ERRORS = {"elbo": "elbo_se", "auc": "auc_se", "std_mean_err_max": "std_mean_err_max_se"}


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05  # significance level of the two-sided Mann-Whitney U test
    min_effect_time: float = 0.10  # relative change of the median, speed metrics
    min_effect_quality: float = 0.05  # relative change of the median, quality metrics
    k_se: float = 3.0  # a quality change must exceed this many combined standard errors
    max_spread: float = 2.0  # repeats whose slowest / fastest exceeds this are noisy
    history: int = 10  # past runs of a cell that compile time is gated against
    min_history: int = 3  # fewer past runs than this: compile time is inconclusive


@dataclass(frozen=True)
class Side:
    label: str
    samples: pd.DataFrame  # record_id, seed, GROUP + machine, metric, value: one row per raw sample
    records: pd.DataFrame | None = None  # one row per record: ids, seed, machine, environment, command, scalars
    store: Path | None = None  # the store file the records were read from


def _record_ids(path: Path, spec: str, is_file: bool) -> tuple[list[int], str]:
    """The records a side names: a whole store, a run id, a tag, or latest / previous."""
    if is_file:
        return stored.latest_record_ids(path), "latest record per cell"
    runs = stored.runs(path)
    if spec in ("latest", "previous"):
        index = -1 if spec == "latest" else -2
        if len(runs) < -index:
            raise BenchInputError(f"{spec!r}: the store holds {len(runs)} run(s) with records")
        run_ids = [runs["run_id"].iloc[index]]
    elif spec in set(runs["run_id"]):
        run_ids = [spec]
    elif spec in set(runs["tag"].dropna()):
        run_ids = list(runs.loc[runs["tag"] == spec, "run_id"])
    else:
        tags = sorted(set(runs["tag"].dropna()))
        raise BenchInputError(
            f"{spec!r} is not a store file, run id or tag; valid choices: latest, previous, "
            f"tags {', '.join(tags) or '(none)'}, or one of {len(runs)} run ids (see `bench history`)"
        )
    return stored.latest_record_ids(path, run_ids), f"run(s) {', '.join(run_ids)}"


def load_side(spec: str, store: Path) -> Side:
    path = Path(spec)
    is_file = path.suffix in (".sqlite", ".db") or path.is_file()
    source = path if is_file else store
    stored.check_readable(source)
    if not source.exists():
        raise BenchInputError(f"store {source} does not exist")
    ids, what = _record_ids(source, spec, is_file)
    if not ids:
        raise BenchInputError(f"{spec!r} holds no records")
    records = stored.records_with_environment(source, ids)
    metrics = stored.scalar_metrics(source, ids)
    timings = stored.timing_samples(source, ids, "run_s")
    records = records[records["status"] == "ok"].copy()
    records["method"] = [m + (f":{v}" if v else "") for m, v in zip(records["method"], records["variant"])]
    records["machine"] = [machine_of(e) for e in records["environment"]]
    steps = metrics[metrics["metric"] == "steps"].set_index("record_id")["value"]
    per_repeat = timings.assign(metric="run_s")
    speed = timings.assign(metric="steps_per_s", value=steps.reindex(timings["record_id"]).to_numpy() / timings["value"])
    one_per_seed = metrics[metrics["metric"].isin([m for m in METRICS if m not in ("run_s", "steps_per_s")])]
    samples = pd.concat([per_repeat, speed, one_per_seed], ignore_index=True)
    samples = samples.merge(records[["record_id", "seed", *GROUP, "machine"]], on="record_id")
    scalars = metrics.pivot_table(index="record_id", columns="metric", values="value", aggfunc="first")
    records = records.join(scalars, on="record_id")
    return Side(f"{spec} ({what})", samples.dropna(subset=["value"]), records, source)


def machine_of(environment: str | None) -> str:
    env = json.loads(environment) if environment else {}
    gpus = ", ".join(g.get("name", "") for g in env.get("gpus", [])) or "no GPU"
    return f"{env.get('cpu', 'unknown CPU')} / {gpus}"


def relative_change(base: float, current: float) -> float:
    if base == 0:
        return 0.0 if current == base else float(np.inf * np.sign(current - base))
    return (current - base) / abs(base)


def verdict(
    base: np.ndarray, current: np.ndarray, higher_is_better: bool, min_effect: float, alpha: float,
    best_must_move: bool = False,
):  # fmt: skip
    """(verdict, relative change of the median, p-value). With best_must_move, the best sample
    (max if higher is better, else min) must also change by at least min_effect."""
    change = relative_change(float(np.median(base)), float(np.median(current)))
    if np.array_equal(np.sort(base), np.sort(current)):
        return "unchanged", 0.0, 1.0
    p = float(stats.mannwhitneyu(base, current, alternative="two-sided").pvalue)
    best = np.max if higher_is_better else np.min
    best_change = relative_change(float(best(base)), float(best(current)))
    if abs(change) < min_effect or (best_must_move and abs(best_change) < min_effect):
        return "unchanged", change, p
    if p >= alpha:
        return "inconclusive", change, p
    better = change > 0 if higher_is_better else change < 0
    return ("improvement" if better else "regression"), change, p


def only_in(one: Side, other: Side) -> list[tuple]:
    keys = set(map(tuple, one.samples[GROUP].drop_duplicates().to_numpy()))
    return sorted(keys - set(map(tuple, other.samples[GROUP].drop_duplicates().to_numpy())))
