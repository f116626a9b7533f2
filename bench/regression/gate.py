"""The regression gate's rules, seed by seed: a seed is compared with the same seed, never pooled.

- Speed (`run_s`, `steps_per_s`: every timed repeat of one seed): Mann-Whitney U and a minimum
  effect that the best repeat must reach too (load only ever slows a repeat down). A change seen
  on a record measured under load (1-minute load average above the cores) or whose repeats
  spread over `max_spread` (slowest / fastest) is `noisy`, not a regression; `bench compare
  --confirm` re-measures it.
- Quality (one value per seed): the change must exceed both the minimum effect and k combined
  standard errors (ELBO's `elbo_se`, the moment error's MCSE, AUC's bootstrap over test points);
  a metric without a standard error (deterministic given the seed) needs the minimum effect only.
  A rank test on two or three values a side can never reach significance, so none is used.
- Compile time (one value per seed): against the cell's own history on the same machine and with
  the same compile cache state (the last `history` runs): beyond median + k robust sd and the
  minimum effect. A cold compile (cache miss) and a cached one (hit) are never compared.
- Settings: a cell is compared only with the same cell run with the same resolved settings; one
  that the two sides ran with different settings only is "not comparable" with the settings that
  differ (`bench compare` exits 3: a configuration error, not a regression).

A cell's verdict is its seeds' common verdict; `noisy` if any seed is; mixed seeds are inconclusive.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench import store
from bench.regression.sides import (
    GROUP,
    KEY,
    METRICS,
    SETTINGS_DIFFER,
    STANDARD_ERRORS,
    Side,
    Thresholds,
    compared_key,
    describe_diff,
    machine_of,
    relative_change,
    settings_by_group,
    settings_diff,
    verdict,
)

SPEED_SAMPLES = ("run_s", "steps_per_s")
COLUMNS = [*GROUP, "metric", "verdict", "baseline", "current", "change", "p_value", "n", "seeds", "note", "settings"]


def compare(base: Side, current: Side, thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """One row per (cell, metric) present on both sides with the same settings; a cell that the
    sides ran with different settings only is one "not comparable" row naming the settings."""
    rows = []
    base_groups = dict(iter(base.samples.groupby(KEY)))
    base_settings, current_settings = settings_by_group(base), settings_by_group(current)
    for key, cur in current.samples.groupby(KEY):
        group, settings = tuple(key[:-1]), key[-1]
        cell = {**dict(zip(GROUP, group)), "settings": settings}
        if key not in base_groups:
            others = base_settings.get(group, set())
            if others and not others & current_settings[group]:  # never run alike: no verdict across settings
                diffs = "; ".join(describe_diff(settings_diff(other, settings)) for other in sorted(others))
                rows.append({**cell, "metric": "*", "verdict": "not comparable", "note": SETTINGS_DIFFER + diffs})
            continue
        old = base_groups[key]
        machines = (set(old["machine"]), set(cur["machine"]))
        if machines[0] != machines[1]:
            rows.append(
                {
                    **cell,
                    "metric": "*",
                    "verdict": "not comparable",
                    "note": f"measured on {' + '.join(sorted(machines[0]))} vs {' + '.join(sorted(machines[1]))}",
                }
            )
            continue
        seeds = sorted(set(old["seed"]) & set(cur["seed"]))
        unmatched = sorted(set(old["seed"]) ^ set(cur["seed"]))
        if not seeds:
            rows.append(
                {
                    **cell,
                    "metric": "*",
                    "verdict": "not comparable",
                    "note": f"no seed on both sides (baseline {sorted(set(old['seed']))}, current {sorted(set(cur['seed']))})",
                }
            )
            continue
        for metric, (kind, higher) in METRICS.items():
            per_seed = []
            for seed in seeds:
                a = _values(old, metric, seed)
                b = _values(cur, metric, seed)
                if len(a) == 0 or len(b) == 0:
                    continue
                rec_a, rec_b = _record(base, key, seed), _record(current, key, seed)
                if metric == "compile_s" and _cache_state(rec_a) != _cache_state(rec_b):
                    why = f"compile cache {_cache_state(rec_a)} vs {_cache_state(rec_b)}: cold and cached compiles are not compared"
                    per_seed.append(
                        (int(seed), "not comparable", a[0], b[0], float("nan"), float("nan"), why, f"{len(a)}/{len(b)}")
                    )
                    continue
                if metric in SPEED_SAMPLES:
                    outcome = _speed(
                        a, b, higher, thresholds, rec_a, rec_b, _values(old, "run_s", seed), _values(cur, "run_s", seed)
                    )
                elif metric == "compile_s":
                    outcome = _compile(a[0], b[0], base, current, rec_a, rec_b, thresholds)
                else:
                    outcome = _quality(metric, a[0], b[0], higher, thresholds, rec_a, rec_b)
                per_seed.append((int(seed), *outcome, f"{len(a)}/{len(b)}"))
            if per_seed:
                rows.append({**cell, "metric": metric, **combine(per_seed, unmatched)})
    return pd.DataFrame(rows, columns=COLUMNS)


def combine(per_seed: list[tuple], unmatched: list = ()) -> dict:
    """Seeds' (seed, verdict, baseline, current, change, p, note, n) into one cell row."""
    verdicts = [row[1] for row in per_seed]
    if "noisy" in verdicts:
        outcome = "noisy"
    elif len(set(verdicts)) == 1:
        outcome = verdicts[0]
    else:
        outcome = "inconclusive"
    notes = [
        f"seed {s}: {v}" + (f" {c:+.1%}" if c == c else "") + (f" ({why})" if why else "")
        for s, v, _, _, c, _, why, _ in per_seed
    ]
    if unmatched:
        notes.append(f"seeds on one side only, not compared: {', '.join(map(str, unmatched))}")
    p_values = [row[5] for row in per_seed if row[5] == row[5]]
    return {
        "verdict": outcome,
        "baseline": float(np.median([row[2] for row in per_seed])),
        "current": float(np.median([row[3] for row in per_seed])),
        "change": float(np.median([row[4] for row in per_seed]))
        if any(row[4] == row[4] for row in per_seed)
        else float("nan"),
        "p_value": max(p_values) if p_values else float("nan"),
        "n": " ".join(row[7] for row in per_seed),
        "seeds": len(per_seed),
        "note": "; ".join(notes),
    }


def _values(samples: pd.DataFrame, metric: str, seed) -> np.ndarray:
    return samples.loc[(samples["metric"] == metric) & (samples["seed"] == seed), "value"].to_numpy()


def _record(side: Side, key: tuple, seed) -> dict:
    records = side.records
    if records is None:
        return {}
    columns = KEY if len(key) == len(KEY) else GROUP
    mask = np.logical_and.reduce([records[col] == value for col, value in zip(columns, key)]) & (
        records["seed"] == seed
    )
    rows = records[mask]
    return {} if rows.empty else rows.sort_values("record_id").iloc[-1].to_dict()


def noise(record: dict, run_s: np.ndarray, thresholds: Thresholds) -> str:
    """Why a record's timing cannot be trusted ('' when it can): load above the cores, or scattered repeats."""
    reasons = []
    load, cores = record.get("load_1m"), record.get("cores")
    if load is not None and cores is not None and load == load and load > cores:
        reasons.append(f"load {load:.1f} on {cores:.0f} cores")
    if len(run_s) > 1 and np.min(run_s) > 0 and np.max(run_s) / np.min(run_s) > thresholds.max_spread:
        reasons.append(f"repeats spread {np.max(run_s) / np.min(run_s):.1f}x")
    return ", ".join(reasons)


def _speed(a, b, higher, th: Thresholds, rec_a: dict, rec_b: dict, run_a, run_b) -> tuple:
    outcome, change, p = verdict(a, b, higher, th.min_effect_time, th.alpha, best_must_move=True)
    why = ""
    if outcome != "unchanged":
        why = "; ".join(
            filter(
                None,
                (
                    f"baseline {w}" if (w := noise(rec_a, run_a, th)) else "",
                    f"current {w}" if (w := noise(rec_b, run_b, th)) else "",
                ),
            )
        )
        if why:
            outcome = "noisy"
    return outcome, float(np.median(a)), float(np.median(b)), change, p, why


def _quality(metric: str, a: float, b: float, higher: bool, th: Thresholds, rec_a: dict, rec_b: dict) -> tuple:
    change = relative_change(a, b)
    se_name = STANDARD_ERRORS.get(metric)
    se = math.hypot(rec_a.get(se_name, np.nan), rec_b.get(se_name, np.nan)) if se_name else float("nan")
    p = float(2 * stats.norm.sf(abs(b - a) / se)) if se == se and se > 0 else float("nan")
    if a == b or abs(change) < th.min_effect_quality:
        return "unchanged", a, b, change, p, ""
    if se == se and abs(b - a) <= th.k_se * se:
        return "inconclusive", a, b, change, p, f"within {th.k_se:g} combined SE ({se:.3g})"
    better = change > 0 if higher else change < 0
    why = f"{abs(b - a) / se:.1f} combined SE" if se == se and se > 0 else "no standard error: minimum effect only"
    return ("improvement" if better else "regression"), a, b, change, p, why


def _compile(a: float, b: float, base: Side, current: Side, rec_a: dict, rec_b: dict, th: Thresholds) -> tuple:
    """Compile time has one value per seed: judged against the cell's own past runs on this machine."""
    change = relative_change(a, b)
    if abs(change) < th.min_effect_time:
        return "unchanged", a, b, change, float("nan"), ""
    past = compile_history(base, current, rec_a, rec_b, th)
    if len(past) < th.min_history:
        return (
            "inconclusive",
            a,
            b,
            change,
            float("nan"),
            f"compile history holds {len(past)} past run(s), needs {th.min_history}",
        )
    center = float(np.median(past))
    scale = float(stats.median_abs_deviation(past, scale="normal"))
    change = relative_change(center, b)
    note = f"vs the median of {len(past)} past runs, robust sd {scale:.3g}"
    if abs(change) < th.min_effect_time or abs(b - center) <= th.k_se * scale:
        return "unchanged", center, b, change, float("nan"), note
    if change > 0 and (why := noise(rec_b, np.array([]), th)):
        return "noisy", center, b, change, float("nan"), f"{note}; current {why}"
    return ("regression" if change > 0 else "improvement"), center, b, change, float("nan"), note


def _cache_state(record: dict) -> str:
    """A record's compile cache state (info.compile_cache: hit, miss, partial, uncached), "unknown" if unrecorded."""
    state = record.get("compile_cache") if record else None
    return state if isinstance(state, str) and state else "unknown"


def compile_history(base: Side, current: Side, rec_a: dict, rec_b: dict, th: Thresholds) -> np.ndarray:
    """Past compile times of the cell on the current record's machine: the current store's records
    before it, and the baseline store's up to the baseline record when that is another file."""
    if not rec_b or current.store is None:
        return np.array([])
    frames = [
        store.metric_history(current.store, rec_b["cell_key"], "compile_s", int(rec_b["record_id"]) - 1, th.history)
    ]
    if rec_a and base.store is not None and Path(base.store).resolve() != Path(current.store).resolve():
        frames.append(
            store.metric_history(base.store, rec_a["cell_key"], "compile_s", int(rec_a["record_id"]), th.history)
        )
    history = pd.concat(frames, ignore_index=True)
    machine, cache = machine_of(rec_b.get("environment")), _cache_state(rec_b)
    history = history[[machine_of(e) == machine for e in history["environment"]]]
    history = history[[_cache_state({"compile_cache": c}) == cache for c in history["compile_cache"]]]  # cold with cold
    settings, method = rec_b.get("settings"), rec_b.get("base_method", "")
    history = history[[compared_key(method, s) == settings for s in history["settings"]]]  # the same compared settings
    return history["value"].dropna().to_numpy()[: th.history]
