"""What the harness costs beside the inference it measures: the default toy suite, cold and warm.

    python benchmarks/harness_overhead.py [--suite toy] [--mode cold,warm] [--store DIR]

cold: a fresh store and empty compile caches; warm: the same cells again with --force, so the
JAX persistent cache and PyTensor's compile directory are full. For each it prints the suite's
wall time, the sums of compile_s and of the timed repeats over all cells, the ratio
wall / (compile + repeats) (the target is at most 1.5), the per-phase sums from the records'
`info.phases`, how many compiles were cache loads, and the machine's load average beside each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_suite(store: Path, suite: str, seeds: int, repeats: int, force: bool, extra: list[str]) -> float:
    command = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--suite",
        suite,
        "--seeds",
        str(seeds),
        "--repeats",
        str(repeats),
        "--store",
        str(store),
        *(["--force"] if force else []),
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"bench run failed with exit code {done.returncode}")
    last = [line for line in done.stdout.splitlines() if line.strip()][-2:]
    print("  " + "\n  ".join(last))
    return wall


def latest_run(store: Path) -> dict:
    from bench.store import run_ids, run_records, timing_samples

    records = run_records(store, run_ids(store)[-1])
    ids = [int(i) for i in records["record_id"]]
    samples = {phase: float(timing_samples(store, ids, phase)["value"].sum()) for phase in ("compile_s", "run_s")}
    phases: Counter = Counter()
    caches: Counter = Counter()
    for info in records["info"]:
        info = json.loads(info or "{}")
        phases.update({k: float(v) for k, v in info.get("phases", {}).items()})
        if "compile_cache" in info:
            caches[info["compile_cache"]] += 1
    return {
        "cells": len(records),
        "statuses": Counter(records["status"]),
        "cell_wall": float(records["wall_s"].fillna(0.0).sum()),
        "timing": samples,
        "phases": phases,
        "caches": caches,
    }


def report(mode: str, wall: float, run: dict, load_before: str) -> None:
    compile_s = run["timing"].get("compile_s", 0.0) or 0.0
    repeats = run["timing"].get("run_s", 0.0) or 0.0
    work = compile_s + repeats
    print(f"[{mode}] cells {run['cells']} ({dict(run['statuses'])}); load average {load_before} -> {loadavg()}")
    print(f"[{mode}] suite wall {wall:.1f} s; cells' wall sum {run['cell_wall']:.1f} s")
    print(f"[{mode}] sum compile {compile_s:.1f} s; sum timed repeats {repeats:.1f} s; measured work {work:.1f} s")
    print(f"[{mode}] wall / (compile + repeats) = {wall / work if work else float('nan'):.2f}")
    if run["phases"]:
        print(f"[{mode}] phase sums: " + ", ".join(f"{k} {v:.1f} s" for k, v in run["phases"].most_common()))
    else:
        print(f"[{mode}] phase sums: not recorded (records carry no info.phases)")
    if run["caches"]:
        print(f"[{mode}] compile cache: " + ", ".join(f"{k} {v}" for k, v in sorted(run["caches"].items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="toy")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="cold,warm", help="cold, warm or cold,warm (warm reuses cold's store)")
    parser.add_argument(
        "--store", type=Path, default=None, help="folder for the store and caches (default: a temp dir)"
    )
    parser.add_argument("extra", nargs="*", help="more `bench run` options, after --")
    args = parser.parse_args()
    folder = args.store or Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    store = folder / "bench.sqlite"
    print(f"store {store}; {os.cpu_count()} cores")
    for mode in args.mode.split(","):
        if mode not in ("cold", "warm"):
            raise SystemExit(f"unknown mode {mode!r}; valid choices: cold, warm")
        if mode == "warm" and not store.exists():
            run_suite(store, args.suite, args.seeds, args.repeats, False, args.extra)  # fill the caches first
        load_before = loadavg()
        wall = run_suite(store, args.suite, args.seeds, args.repeats, mode == "warm", args.extra)
        report(mode, wall, latest_run(store), load_before)


if __name__ == "__main__":
    main()
