"""PyMC ADVI on breast cancer: steady-state time per step in C and NUMBA modes, and cold and
warm compile times, measured side by side in one run.

Every measurement is a fresh process. Cold: an empty PyTensor compile directory and Numba cache;
warm: the same directories a second time. Compile = building the step function plus its first
call (Numba compiles lazily); steady state = the median over repeats of `--steps` calls.

    python benchmarks/pymc_compile_modes.py [--steps 5000] [--repeats 5]
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
MODES = ("C", "NUMBA")


def measure(mode: str, steps: int, repeats: int) -> dict:
    """Runs inside a child process whose environment fixes the compile directories."""
    from time import perf_counter

    import numpy as np
    import pymc as pm

    import suites
    from backends.pymc.fit import COMPILE_MODES
    from backends.pymc.model import make_model

    problem = suites.get_problem("breast_cancer")
    model = make_model(problem, problem.make_data(0).train)
    with model:
        inference = pm.ADVI(random_seed=0)
        start = perf_counter()
        step = inference.objective.step_function(
            obj_optimizer=pm.adam(learning_rate=0.01), score=True, fn_kwargs={"mode": COMPILE_MODES[mode]}
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


def child(mode: str, steps: int, repeats: int, cache: Path) -> dict:
    env = dict(os.environ, PYTENSOR_FLAGS=f"floatX=float32,compiledir={cache / 'pytensor'}",
               NUMBA_CACHE_DIR=str(cache / "numba"), PYTHONPATH=str(ROOT))  # fmt: skip
    code = f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.pymc_compile_modes import measure; " \
           f"print(json.dumps(measure({mode!r}, {steps}, {repeats})))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import pymc
    import pytensor

    rows = {}
    for mode in MODES:
        with tempfile.TemporaryDirectory(prefix=f"pymc-{mode}-") as tmp:
            cold = child(mode, args.steps, args.repeats, Path(tmp))
            warm = child(mode, args.steps, args.repeats, Path(tmp))
        rows[mode] = {"cold": cold["compile_s"], "warm": warm["compile_s"],
                      "us": float(sum(sorted([cold["us_per_step"], warm["us_per_step"]]))) / 2}  # fmt: skip
    print(f"PyMC {pymc.__version__}, PyTensor {pytensor.__version__}; breast_cancer ADVI (Adam, 1 draw), float32; "
          f"{args.steps} steps x {args.repeats} repeats, median; cold and warm processes each")  # fmt: skip
    print(f"{'mode':<6} {'cold compile s':>15} {'warm compile s':>15} {'us/step':>9} {'vs C':>6}")
    for mode, row in rows.items():
        print(f"{mode:<6} {row['cold']:>15.2f} {row['warm']:>15.2f} {row['us']:>9.1f} {row['us'] / rows['C']['us']:>6.2f}")


if __name__ == "__main__":
    main()
