"""What keeping time-to-accuracy checkpoints costs the timed numpyro.svi loop: none per step.

Side by side in one process, interleaved repeats, for a toy problem and a network:

- checkpointed: the harness's loop (`make_run_loop` -> `scan_with_snapshots`: an outer scan over
  up to 256 equal segments, an inner scan of static length, a parameter snapshot written after each
  segment);
- plain scan: the same update scanned straight through, no snapshots (the loop the harness ran
  before checkpoints existed).

checkpointed / plain scan is the overhead; the target is at most 1.05. Both loops return the
same losses and parameters bit for bit (tests/test_checkpoints.py). On XLA:CPU the segmented loop
is measurably faster than the flat scan for tiny models (coinflip: about 7 against 12
microseconds per step): a property of the compiled loop, not of fewer steps.

    python benchmarks/checkpoint_overhead.py [--steps 5000] [--repeats 7]
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
import suites
from backends.jax_common.model import model_data
from backends.numpyro.svi import _minibatch_step, build_svi, make_run_loop
from bench.spec.methods import resolve_settings


def loops(problem_name: str, steps: int):
    problem = suites.get_problem(problem_name)
    method = backends.get_method("numpyro.svi")
    settings = method.make_settings(resolve_settings(method, problem, "auto_normal", {"steps": str(steps)}))
    svi, _ = build_svi(problem, settings)
    data = problem.make_data(0)
    train = model_data(problem, data.train, jnp.float32)
    state = jax.jit(svi.init)(jax.random.PRNGKey(0), **train)
    key = jax.random.PRNGKey(1)
    n_train = len(data.train) if data.train is not None else 0
    update = _minibatch_step(svi, n_train, 0)

    def plain(state, key, train, val):
        def step(carry, _):
            state, key = carry
            (state, loss), key = update(state, key, train)
            return (state, key), loss

        (state, _), losses = jax.lax.scan(step, (state, key), None, length=steps)
        return state, losses

    made = {}
    for name, run in (("checkpointed", make_run_loop(svi, steps, n_train=n_train)), ("plain scan", plain)):
        compiled = jax.jit(run).lower(state, key, train, {}).compile()
        made[name] = lambda compiled=compiled: jax.block_until_ready(compiled(state, key, train, {}))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(
        f"numpyro.svi auto_normal, {args.steps} steps, {args.repeats} interleaved repeats, median; {jax.devices()[0]}"
    )
    print(f"{'problem':<10} {'checkpointed us/step':>21} {'plain scan us/step':>19} {'ratio':>7}")
    for problem_name in ("coinflip", "moons"):
        made = loops(problem_name, args.steps)
        for call in made.values():
            call()  # first execution, untimed
        times: dict[str, list[float]] = {name: [] for name in made}
        for _ in range(args.repeats):
            for name, call in made.items():
                start = perf_counter()
                call()
                times[name].append((perf_counter() - start) / args.steps * 1e6)
        ours, plain = (float(np.median(times[name])) for name in ("checkpointed", "plain scan"))
        print(f"{problem_name:<10} {ours:>21.2f} {plain:>19.2f} {ours / plain:>7.3f}")


if __name__ == "__main__":
    main()
