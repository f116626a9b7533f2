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

from bench.scoring.metrics import GATED, STANDARD_ERRORS
from bench.scoring.metrics import METRICS as CATALOGUE
from bench.spec.errors import BenchInputError
from bench.spec.methods import compared_settings
from bench import store as stored

# The gated metrics: metric -> (kind, True when higher is better), from the catalogue (as are
# GATED and STANDARD_ERRORS: quality metric -> the metric holding its standard error).
METRICS: dict[str, tuple[str, bool]] = {
    name: (CATALOGUE[name].kind, CATALOGUE[name].higher_is_better) for name in GATED
}
GROUP = ["suite", "problem", "method", "device", "dtype"]
KEY = [*GROUP, "settings"]  # a cell's identity: its group and its resolved settings (canonical JSON)
VERDICTS = ("regression", "improvement", "noisy", "inconclusive", "unchanged", "not comparable")
SETTINGS_DIFFER = "settings differ: "  # how a "not comparable" note across different settings begins
EXIT_NOT_COMPARABLE = 3  # `bench compare` / `bench history`: a cell's sides ran with different settings
__all__ = [
    "GATED",
    "GROUP",
    "KEY",
    "METRICS",
    "STANDARD_ERRORS",
    "Side",
    "Thresholds",
    "load_side",
    "settings_diff",
    "settings_labels",
]


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


def _record_ids(path: Path, spec: str, is_file: bool, reused: bool = True) -> tuple[list[int], str]:
    """The records a side names: a whole store, a run id, a tag, or latest / previous (a run's
    records: those it wrote and, with `reused`, the finished ones it reused)."""
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
    return stored.latest_record_ids(path, run_ids, reused=reused), f"run(s) {', '.join(run_ids)}"


def load_side(spec: str, store: Path, reused: bool = True) -> Side:
    path = Path(spec)
    is_file = path.suffix in (".sqlite", ".db") or path.is_file()
    source = path if is_file else store
    stored.check_readable(source)
    if not source.exists():
        raise BenchInputError(f"store {source} does not exist")
    ids, what = _record_ids(source, spec, is_file, reused)
    if not ids:
        raise BenchInputError(f"{spec!r} holds no records")
    records = stored.records_with_environment(source, ids)
    metrics = stored.scalar_metrics(source, ids)
    timings = stored.timing_samples(source, ids, "run_s")
    records = records[records["status"] == "ok"].copy()
    records["base_method"] = records["method"]
    records["method"] = [m + (f":{v}" if v else "") for m, v in zip(records["method"], records["variant"])]
    records["machine"] = [machine_of(e) for e in records["environment"]]
    steps = metrics[metrics["metric"] == "steps"].set_index("record_id")["value"]
    per_repeat = timings.assign(metric="run_s")
    speed = timings.assign(
        metric="steps_per_s", value=steps.reindex(timings["record_id"]).to_numpy() / timings["value"]
    )
    one_per_seed = metrics[metrics["metric"].isin([m for m in METRICS if m not in ("run_s", "steps_per_s")])]
    samples = pd.concat([per_repeat, speed, one_per_seed], ignore_index=True)
    records["settings"] = [
        compared_key(method, settings) for method, settings in zip(records["base_method"], records["settings"])
    ]
    samples = samples.merge(records[["record_id", "seed", *KEY, "machine", "compile_cache"]], on="record_id")
    scalars = metrics.pivot_table(index="record_id", columns="metric", values="value", aggfunc="first")
    records = records.join(scalars, on="record_id")
    return Side(f"{spec} ({what})", samples.dropna(subset=["value"]), records, source)


def compared_key(method: str, settings: str | None) -> str:
    """A record's settings as a comparison keys it: canonical JSON, without the settings its method
    declares not compared (bench.spec.methods.not_compared)."""
    import backends

    values = json.loads(settings) if isinstance(settings, str) and settings else {}
    return json.dumps(compared_settings(backends.registry().get(method), values), sort_keys=True)


def machine_of(environment: str | None) -> str:
    env = json.loads(environment) if environment else {}
    gpus = ", ".join(g.get("name", "") for g in env.get("gpus", [])) or "no GPU"
    return f"{env.get('cpu', 'unknown CPU')} / {gpus}"


def relative_change(base: float, current: float) -> float:
    if base == 0:
        return 0.0 if current == base else float(np.inf * np.sign(current - base))
    return (current - base) / abs(base)


def verdict(
    base: np.ndarray,
    current: np.ndarray,
    higher_is_better: bool,
    min_effect: float,
    alpha: float,
    best_must_move: bool = False,
):
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


def settings_diff(a: str | dict, b: str | dict) -> dict[str, tuple]:
    """{setting: (value in a, value in b)} for every setting the two differ in (None: absent)."""
    a = json.loads(a) if isinstance(a, str) else a
    b = json.loads(b) if isinstance(b, str) else b
    return {name: (a.get(name), b.get(name)) for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)}


def describe_diff(diff: dict[str, tuple], left: str = "baseline", right: str = "current") -> str:
    """'steps 10000 (baseline) vs 500 (current), ...': what a not-comparable verdict names."""
    return ", ".join(f"{name} {a} ({left}) vs {b} ({right})" for name, (a, b) in diff.items())


def settings_by_group(side: Side) -> dict[tuple, set[str]]:
    """{cell group: the settings it ran with on this side}."""
    out: dict[tuple, set[str]] = {}
    for *group, settings in map(tuple, side.samples[KEY].drop_duplicates().to_numpy()):
        out.setdefault(tuple(group), set()).add(settings)
    return out


def settings_labels(table: pd.DataFrame) -> dict:
    """{row index: "steps=500, ..."} for a comparison table's rows: the settings that tell apart the
    rows of one cell group (empty where a group ran with one set of settings only)."""
    if "settings" not in table or table.empty:
        return {}
    labels = {}
    for _, group in table.groupby(GROUP, dropna=False):
        variants = set(group["settings"].dropna())
        for index, settings in group["settings"].items():
            differ = (
                sorted({n for other in variants for n in settings_diff(other, settings)}) if len(variants) > 1 else []
            )
            values = json.loads(settings) if isinstance(settings, str) else {}
            labels[index] = ", ".join(f"{n}={values.get(n)}" for n in differ)
    return labels


def only_in(one: Side, other: Side) -> list[tuple]:
    """Cells of `one` that `other` does not hold at all (a cell the other side ran with different
    settings only is "not comparable" instead); a cell shown with the settings that set it apart."""
    mine, theirs = settings_by_group(one), settings_by_group(other)
    out = []
    for group, settings in sorted(mine.items()):
        if group not in theirs:
            out.append(group)
        elif settings & theirs[group]:  # matched with the same settings; the rest ran only here
            for extra in sorted(settings - theirs[group]):
                diff = settings_diff(sorted(theirs[group])[0], extra)
                out.append((*group, ", ".join(f"{k}={b}" for k, (_, b) in diff.items())))
    return out
