"""PyMC ADVI: steady-state time per step in C mode without a BLAS, C mode linked to the system
OpenBLAS (backends.pymc.runtime.blas_flags) and NUMBA mode, and cold and warm compile times, measured side by side
in one run, on breast cancer and (matrix-heavy) diamonds and moons.

Every measurement is a fresh process with one thread. Cold: an empty PyTensor compile directory and
Numba cache; warm: the same directories a second time. Compile = building the step function plus its
first call (Numba compiles lazily); steady state = the median over repeats of `--steps` calls.

    python benchmarks/pymc_compile_modes.py [--steps 5000] [--repeats 5] [--problems diamonds,moons]
                                           [--modes C,C+BLAS,NUMBA]

Measured here (PyMC 5.28.5, PyTensor 2.38.3, 2 shared cores under load 5-10, so read ratios, not
absolutes), a `bench run` of pymc.advi at 2,000 steps per mode: diamonds 3.87 ms/step in C without
BLAS, 2.07 with OpenBLAS (at a higher load), 5.22 in NUMBA after a first call of 172 s; moons 1.00,
2.09 (load 7 against 3) and 3.07. In CPU time per step (process_time, 4 draws, one thread, which the
load disturbs less): diamonds 1.30 ms without BLAS, 0.92 ms with OpenBLAS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("C", "C+BLAS", "NUMBA")


def measure(mode: str, steps: int, repeats: int, problem_name: str = "breast_cancer") -> dict:
    """Runs inside a child process whose environment fixes the compile directories."""
    from time import perf_counter

    import numpy as np
    import pymc as pm

    import suites
    from backends.pymc.fit import COMPILE_MODES
    from backends.pymc.model import make_model

    problem = suites.get_problem(problem_name)
    model = make_model(problem, problem.make_data(0).train)
    with model:
        inference = pm.ADVI(random_seed=0)
        start = perf_counter()
        step = inference.objective.step_function(
            obj_optimizer=pm.adam(learning_rate=0.01), score=True, fn_kwargs={"mode": COMPILE_MODES[mode.split("+")[0]]}
        )
        step()
        compile_s = perf_counter() - start
    samples = []
    for _ in range(repeats):
        start = perf_counter()
        for _ in range(steps):
            step()
        samples.append((perf_counter() - start) / steps)
    return {"compile_s": compile_s, "us_per_step": 1e6 * float(np.median(samples))}


def child(mode: str, steps: int, repeats: int, cache: Path, problem: str) -> dict:
    from backends.pymc import runtime as blas
    from bench.runtime import threads

    flags = blas.blas_flags() if mode == "C+BLAS" else ["blas__ldflags="]
    env = dict(
        os.environ,
        PYTENSOR_FLAGS=",".join([f"floatX=float32,compiledir={cache / 'pytensor'}", *flags]),
        NUMBA_CACHE_DIR=str(cache / "numba"),
        PYTHONPATH=str(ROOT),
        **threads.environment(1),
    )
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.pymc_compile_modes import measure; "
        f"print(json.dumps(measure({mode!r}, {steps}, {repeats}, {problem!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--problems", default="breast_cancer")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    import pymc
    import pytensor

    from backends.pymc import runtime as blas

    modes = [m for m in args.modes.split(",") if m != "C+BLAS" or blas.system_openblas()]
    print(
        f"PyMC {pymc.__version__}, PyTensor {pytensor.__version__}; ADVI (Adam, 1 draw), float32, 1 thread; "
        f"{args.steps} steps x {args.repeats} repeats, median; cold and warm processes each; "
        f"system OpenBLAS: {blas.system_openblas()}"
    )
    print(f"{'problem':<14} {'mode':<7} {'cold compile s':>15} {'warm compile s':>15} {'us/step':>9} {'vs C':>6}")
    for problem in args.problems.split(","):
        rows = {}
        for mode in modes:
            with tempfile.TemporaryDirectory(prefix=f"pymc-{mode}-") as tmp:
                cold = child(mode, args.steps, args.repeats, Path(tmp), problem)
                warm = child(mode, args.steps, args.repeats, Path(tmp), problem)
            rows[mode] = {
                "cold": cold["compile_s"],
                "warm": warm["compile_s"],
                "us": float(sum(sorted([cold["us_per_step"], warm["us_per_step"]]))) / 2,
            }
        for mode, row in rows.items():
            print(
                f"{problem:<14} {mode:<7} {row['cold']:>15.2f} {row['warm']:>15.2f} {row['us']:>9.1f} "
                f"{row['us'] / rows['C']['us']:>6.2f}"
            )


if __name__ == "__main__":
    main()
