"""Steady-state cost per step of numpyro.svi on two-moons networks as the minibatch shrinks.

Full-batch and plate-subsampled minibatch fits of the same network, measured side by side in one
run (AOT-compiled scans, warm repeats, median). Prints microseconds and steps per second per batch
size, for the seed's data size and a 10x larger one, and checks loosely that the smallest batch
is cheaper per step than the full batch.

    python benchmarks/minibatch_scaling.py [--steps 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
from time import perf_counter

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np

import backends
from backends.jax_common.model import model_data
from backends.numpyro.svi import build_svi, make_run_loop
from bench.spec.methods import resolve_settings
from suites.bnn import moons

BATCHES = (0, 256, 64, 16)  # 0 = full batch


def compiled_loop(problem, batch_size: int, steps: int):
    method = backends.get_method("numpyro.svi")
    settings = method.make_settings(
        resolve_settings(method, problem, "auto_normal", {"steps": str(steps), "batch_size": str(batch_size)})
    )
    svi, _ = build_svi(problem, settings)
    data = problem.make_data(0)
    train = model_data(problem, data.train, jnp.float32)
    state = svi.init(jax.random.PRNGKey(0), **train)
    run = make_run_loop(svi, steps, n_train=len(data.train), batch_size=batch_size)
    key = jax.random.PRNGKey(1)
    compiled = jax.jit(run).lower(state, key, train, {}).compile()
    return lambda: compiled(state, key, train, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"auto_normal, Adam, 1 particle; {args.steps} steps x {args.repeats} repeats, median; {jax.devices()[0]}")
    print(f"{'n_train':>8} {'batch':>6} {'us/step':>9} {'steps/s':>9} {'vs full':>8}")
    verdicts = []
    for n_samples in (2000, 20000):
        problem = moons.make_problem(n_samples=n_samples)
        n_train = len(problem.make_data(0).train)
        loops = {b: compiled_loop(problem, b, args.steps) for b in BATCHES}
        for loop in loops.values():
            jax.block_until_ready(loop())  # first execution, untimed
        times = {b: [] for b in BATCHES}
        for _ in range(args.repeats):
            for b, loop in loops.items():
                start = perf_counter()
                jax.block_until_ready(loop())
                times[b].append((perf_counter() - start) / args.steps)
        full = np.median(times[0])
        for b in BATCHES:
            per_step = np.median(times[b])
            label = "full" if b == 0 else str(b)
            print(f"{n_train:>8} {label:>6} {per_step * 1e6:>9.1f} {1 / per_step:>9.0f} {per_step / full:>8.2f}")
        verdicts.append(np.median(times[BATCHES[-1]]) < full)
    print("smallest batch cheaper per step than full batch:", "yes" if all(verdicts) else "NO")


if __name__ == "__main__":
    main()
