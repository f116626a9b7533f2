"""`bench compare --confirm`: re-measure flagged cells for both code versions before calling a regression.

NumPyro's benchmark practice: the two versions run in alternating rounds (A B A B ...) on the
same machine, so load from other work falls on both, and each keeps its best (the fastest
repeat over all rounds: load only ever slows a repeat down). A speed change is a regression only
if it survives that on every seed. Each version is the commit recorded in its run's environment,
checked out with `git worktree add` into a temporary folder; a run recorded from a dirty tree is
re-measured with the working tree as it is now. Every version runs in the current Python
environment with PYTHONPATH (and the working directory) pointing at its tree, through its own
`bench run` with the options its run was recorded with, so the same seeds and settings are used.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.runtime import environment
from bench import store
from bench.regression.sides import GROUP, METRICS, Side, Thresholds, relative_change
from bench.spec.errors import BenchInputError

FLAGGED = ("regression", "noisy")
# `bench run` options replaced (the store, what to run) or dropped (how it was scheduled)
REPLACED = {"--store", "--tag", "--problems", "--methods", "--jobs", "--executor", "--scheduler"}
DROPPED_FLAGS = {"--force", "--strict", "--save-draws"}
PATH_OPTIONS = {"--references", "--config"}


@dataclass(frozen=True)
class Version:
    name: str  # "baseline" or "current"
    tree: Path  # the code that is run
    description: str  # which commit, and how it was checked out


def flagged_cells(table: pd.DataFrame) -> list[tuple]:
    rows = table[table["metric"].isin(("run_s", "steps_per_s")) & table["verdict"].isin(FLAGGED)]
    return sorted(set(map(tuple, rows[GROUP].to_numpy())))


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=120)


def code_of(side: Side, keys: list[tuple]) -> dict:
    """The code version (commit, dirty, diff) the side's flagged records were measured with: one only."""
    import json

    records = side.records.merge(pd.DataFrame(keys, columns=GROUP), on=GROUP)
    versions = {
        (e.get("commit"), bool(e.get("dirty")), e.get("diff_sha"))
        for e in (json.loads(x) if x else {} for x in records["environment"])
    }
    if len(versions) != 1:
        raise BenchInputError(
            f"{side.label}: the flagged cells were measured with {len(versions)} code versions; compare one run"
        )
    commit, dirty, diff_sha = versions.pop()
    if not commit:
        raise BenchInputError(f"{side.label} records no git commit, so --confirm cannot rebuild its code")
    return {"commit": commit, "dirty": dirty, "diff_sha": diff_sha}


def checkout(name: str, code: dict, repo: Path, scratch: Path) -> Version:
    """The tree to run for a code version: the working tree where it is that version (or was recorded
    dirty), else a fresh `git worktree` of the commit."""
    here = environment.code_version()
    short = code["commit"][:10]
    if code["dirty"]:
        same = code["commit"] == here["commit"] and code["diff_sha"] == here["diff_sha"]
        state = "the same uncommitted changes" if same else "uncommitted changes that may differ now"
        return Version(name, repo, f"{short} + {state}: the working tree as it is")
    if code["commit"] == here["commit"] and not here["dirty"]:
        return Version(name, repo, f"{short}: the working tree (clean at that commit)")
    if _git(repo, "cat-file", "-e", f"{code['commit']}^{{commit}}").returncode != 0:
        raise BenchInputError(
            f"{name} commit {short} is not in the repository at {repo} (a shallow clone? check out with fetch-depth: 0)"
        )
    tree = scratch / f"tree-{name}"
    added = _git(repo, "worktree", "add", "--detach", str(tree), code["commit"])
    if added.returncode != 0:
        raise BenchInputError(
            f"git worktree add for {name} commit {short} failed: {added.stderr.strip().splitlines()[-1]}"
        )
    return Version(name, tree, f"{short}: a git worktree of that commit")


def run_arguments(command: str, problems: list[str], methods: list[str], store_path: Path, tag: str) -> list[str]:
    """A recorded `bench run` command restricted to the flagged cells and pointed at a scratch store."""
    words = shlex.split(command or "")
    if len(words) < 2 or words[1] != "run":
        raise BenchInputError(
            f"the run has no recorded `bench run` command ({command!r}), so --confirm cannot repeat it"
        )
    kept, i, original_store = [], 2, None
    while i < len(words):
        word = words[i]
        name, has_value, inline = word.partition("=")
        takes_value = not has_value and i + 1 < len(words) and not words[i + 1].startswith("--")
        value = inline if has_value else (words[i + 1] if takes_value else None)
        i += 1 + takes_value
        if name == "--store":
            original_store = value
        if name in REPLACED or name in DROPPED_FLAGS:
            continue
        if name in PATH_OPTIONS and value is not None:
            value = str(Path(value).resolve())
        kept += [name] if value is None else [name, value]
    references = Path(original_store or "results/bench.sqlite").resolve().parent / "references"
    if "--references" not in kept and references.is_dir():  # the references the run was scored against
        kept += ["--references", str(references)]
    return [
        "run",
        *kept,
        "--problems",
        ",".join(problems),
        "--methods",
        ",".join(methods),
        "--store",
        str(store_path),
        "--force",
        "--tag",
        tag,
    ]


def _bench_run(version: Version, arguments: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(version.tree), env.get("PYTHONPATH")]))
    # the working directory is the tree, so `python -m` and each cell's worker import its code first
    return subprocess.run(
        [sys.executable, "-m", "bench", *arguments], cwd=version.tree, env=env, capture_output=True, text=True
    )


def confirm(
    table: pd.DataFrame,
    base: Side,
    current: Side,
    thresholds: Thresholds = Thresholds(),
    rounds: int = 5,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """The comparison with every flagged speed row re-judged on alternating re-measurements."""
    keys = flagged_cells(table)
    if not keys:
        return table
    repo = environment.PROJECT_ROOT
    sides = {"baseline": base, "current": current}
    codes = {name: code_of(side, keys) for name, side in sides.items()}
    jobs = {name: _jobs(side, keys) for name, side in sides.items()}
    for command, problems, methods in (job for side_jobs in jobs.values() for job in side_jobs):
        run_arguments(
            command, problems, methods, Path("check.sqlite"), "check"
        )  # bad commands fail before any checkout
    with tempfile.TemporaryDirectory(prefix="bench-confirm-") as tmp:
        scratch = Path(tmp)
        versions = {}
        try:
            for name in sides:
                versions[name] = checkout(name, codes[name], repo, scratch)
                log(f"confirm: {name} = {versions[name].description} ({versions[name].tree})")
            for round_ in range(1, rounds + 1):
                for name in sides:  # A B A B ...: both versions see the same spell of load
                    for command, problems, methods in jobs[name]:
                        arguments = run_arguments(
                            command, problems, methods, scratch / name / "confirm.sqlite", f"confirm-{round_}"
                        )
                        done = _bench_run(versions[name], arguments)
                        if done.returncode != 0:
                            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
                            raise BenchInputError(
                                f"--confirm: {name} `bench run` failed (exit {done.returncode}): {last}"
                            )
                log(f"confirm: round {round_}/{rounds} done")
            best = {name: _best(scratch / name / "confirm.sqlite") for name in sides}
        finally:
            for version in versions.values():
                if version.tree != repo:
                    _git(repo, "worktree", "remove", "--force", str(version.tree))
    return rejudge(table, keys, best["baseline"], best["current"], thresholds, rounds)


def _jobs(side: Side, keys: list[tuple]) -> list[tuple[str, list[str], list[str]]]:
    """One `bench run` per recorded command, over the flagged problems and methods it ran."""
    records = side.records.merge(pd.DataFrame(keys, columns=GROUP), on=GROUP)
    return [
        (command, sorted(set(group["problem"])), sorted(set(group["method"])))
        for command, group in records.groupby("command", dropna=False)
    ]


def _best(path: Path) -> pd.DataFrame:
    """Per (cell group, seed): the fastest repeat over all rounds, and each round's fastest in order."""
    if not path.exists():
        return pd.DataFrame(columns=[*GROUP, "seed", "best", "steps", "rounds"])
    rows = store.timing_rows(path)
    rows["method"] = [m + (f":{v}" if v else "") for m, v in zip(rows["method"], rows["variant"])]
    rows["round"] = [int(tag.rsplit("-", 1)[1]) for tag in rows["tag"]]
    per_round = rows.groupby([*GROUP, "seed", "round"], as_index=False).agg(
        fastest=("seconds", "min"), steps=("steps", "first")
    )
    return (
        per_round.sort_values("round")
        .groupby([*GROUP, "seed"], as_index=False)
        .agg(best=("fastest", "min"), steps=("steps", "first"), rounds=("fastest", list))
    )


def rejudge(
    table: pd.DataFrame, keys: list[tuple], best_a: pd.DataFrame, best_b: pd.DataFrame, th: Thresholds, rounds: int
) -> pd.DataFrame:
    """Flagged speed rows become regression or improvement only if the best-of-rounds change, seed by
    seed, passes the minimum effect the same way on every seed; otherwise unchanged."""
    table = table.copy()
    merged = best_a.merge(best_b, on=[*GROUP, "seed"], suffixes=("_a", "_b"))
    for key in keys:
        cell = dict(zip(GROUP, key))
        mask = np.logical_and.reduce([table[col] == value for col, value in cell.items()])
        mask &= table["metric"].isin(("run_s", "steps_per_s")) & table["verdict"].isin(FLAGGED)
        pairs = merged[np.logical_and.reduce([merged[col] == cell[col] for col in GROUP])]
        for index in table.index[mask]:
            metric = table.at[index, "metric"]
            if pairs.empty:
                table.at[index, "note"] += "; --confirm measured nothing for this cell"
                continue
            higher = METRICS[metric][1]
            a = pairs["best_a"] if metric == "run_s" else pairs["steps_a"] / pairs["best_a"]
            b = pairs["best_b"] if metric == "run_s" else pairs["steps_b"] / pairs["best_b"]
            changes = np.array([relative_change(x, y) for x, y in zip(a, b)])
            worse = changes < 0 if higher else changes > 0
            large = np.abs(changes) >= th.min_effect_time
            slower_rounds = [sum(y > x for x, y in zip(ra, rb)) for ra, rb in zip(pairs["rounds_a"], pairs["rounds_b"])]
            if large.all() and worse.all():
                outcome = "regression"
            elif large.all() and not worse.any():
                outcome = "improvement"
            else:
                outcome = "unchanged"
            detail = ", ".join(
                f"seed {s}: {c:+.1%} (current slower in {n}/{rounds} rounds)"
                for s, c, n in zip(pairs["seed"], changes, slower_rounds)
            )
            was = table.at[index, "verdict"]
            table.loc[index, ["verdict", "baseline", "current", "change", "p_value", "n"]] = [
                outcome,
                float(np.median(a)),
                float(np.median(b)),
                float(np.median(changes)),
                float("nan"),
                f"best of {rounds} rounds",
            ]
            table.at[index, "note"] = (
                f"confirmed ({was} before): {detail}"
                if outcome != "unchanged"
                else f"did not survive --confirm ({was} before): {detail}"
            )
    return table
