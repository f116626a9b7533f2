"""Two-moons VI steps per second: eager torch.vi, its torch.compile'd step, and the NumPyro adapter.

All three fit the same mean-field Gaussian with one reparameterised particle per step and Adam, on
the same problem, measured side by side in one run (steady state: compilation and a warm-up run
outside the clock; the device is synchronised before the clock is read). Where CUDA is visible,
the torch rows repeat on the GPU.

    python benchmarks/torch_vs_numpyro.py [--steps 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np

import backends
import suites
from bench.spec.fitting import FitContext
from bench.spec.methods import resolve_settings


def steps_per_s(method: str, overrides: dict, device: str, steps: int, repeats: int) -> tuple[float, float]:
    problem = suites.get_problem("moons")
    method_record = backends.get_method(method)
    variant = "auto_normal" if method == "numpyro.svi" else ""
    settings = resolve_settings(method_record, problem, variant, {"steps": str(steps), **overrides})
    fit = method_record.load_fit()
    result = fit(
        problem,
        problem.make_data(0),
        method_record.make_settings(settings),
        FitContext(0, device, "float32", repeats, 100),
    )
    return steps / float(np.median(result.run_s)), result.compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    rows = []
    numpyro_rate, numpyro_compile = steps_per_s("numpyro.svi", {}, "cpu", args.steps, args.repeats)
    rows.append(("numpyro.svi:auto_normal (scan)", "cpu", numpyro_rate, numpyro_compile))
    devices = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])
    for device in devices:
        for label, overrides in (("torch.vi eager", {}), ("torch.vi compiled", {"compile": "true"})):
            rate, compile_s = steps_per_s("torch.vi", overrides, device, args.steps, args.repeats)
            rows.append((label, "cuda" if device == "gpu" else "cpu", rate, compile_s))
    print(
        f"moons (MLP 2-4-3-1, 980 rows), 1 particle, {args.steps} steps x {args.repeats} repeats, median;"
        f" torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"{'formulation':<32} {'device':<6} {'steps/s':>9} {'us/step':>9} {'compile_s':>10} {'/ numpyro':>10}")
    for label, device, rate, compile_s in rows:
        print(
            f"{label:<32} {device:<6} {rate:>9.0f} {1e6 / rate:>9.1f} {compile_s:>10.2f} {rate / numpyro_rate:>10.2f}"
        )


if __name__ == "__main__":
    main()
