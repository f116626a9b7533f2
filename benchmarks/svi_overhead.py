"""Steady-state cost per step of the numpyro.svi adapter against hand-fused lax.scan loops.

For coinflip (auto_normal: a logistic-Normal guide) and gaussian2d (auto_mvn: a full-rank Gaussian),
three loops run the same model, guide family, particle count and optax Adam update, measured side
by side in one process with interleaved repeats:

- adapter: the harness's numpyro.svi fit loop (AOT-compiled, data as arguments, cut into segments
  that keep the checkpoint snapshots for time to accuracy; on XLA:CPU this nested loop runs
  tiny models faster than the flat scans below, so ratios under 1 are expected there: see
  benchmarks/checkpoint_overhead.py);
- svi.update fused: NumPyro's own `svi.update` scanned by hand under a plain `jax.jit`, data closed
  over. adapter / this is the adapter's own overhead: the target is at most 1.2;
- pure JAX: the same VI written out by hand (one PRNG draw per step). adapter / this is NumPyro's
  framework cost, mostly its per-site PRNG key splitting, which dominates on models this small.

    python benchmarks/svi_overhead.py [--steps 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
from time import perf_counter

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import optax

import backends
import suites
from backends.jax_common.model import model_data
from backends.numpyro.svi import build_svi, make_run_loop
from bench.spec.methods import resolve_settings
from bench.spec.ops import jax_ops


def adapter_loop(problem, settings):
    svi, _ = build_svi(problem, settings)
    data = model_data(problem, problem.make_data(0).train, jnp.float32)
    state = svi.init(jax.random.PRNGKey(0), **data)
    key = jax.random.PRNGKey(1)
    compiled = jax.jit(make_run_loop(svi, settings.steps)).lower(state, key, data, {}).compile()
    return lambda: compiled(state, key, data, {})


def update_fused_by_hand(problem, settings):
    svi, _ = build_svi(problem, settings)
    data = model_data(problem, problem.make_data(0).train, jnp.float32)
    state = svi.init(jax.random.PRNGKey(0), **data)

    @jax.jit
    def run(state):
        return jax.lax.scan(lambda s, _: svi.update(s, **data), state, None, length=settings.steps)

    return lambda: run(state)


def coinflip_log_joint(f, y):
    # Uniform(0, 1) prior (log density 0 inside) and a Bernoulli likelihood.
    return jnp.sum(y * jnp.log(f) + (1 - y) * jnp.log1p(-f))


def fused_coinflip(problem, settings):
    """Logistic-Normal q, reparameterised, num_particles draws, Adam: written out by hand."""
    y = jnp.asarray(problem.make_data(0).train.y, jnp.float32)
    particles = settings.particles

    def loss(params, key):
        eps = jax.random.normal(key, (particles,))
        scale = jax.nn.softplus(params["raw_scale"])
        z = params["loc"] + scale * eps
        f = jax.nn.sigmoid(z)
        log_jac = -jax.nn.softplus(-z) - jax.nn.softplus(z)
        log_q = jax.scipy.stats.norm.logpdf(z, params["loc"], scale) - log_jac
        log_p = jax.vmap(lambda fi: coinflip_log_joint(fi, y))(f)
        return -jnp.mean(log_p - log_q)

    params = {"loc": jnp.float32(0.0), "raw_scale": jnp.float32(np.log(np.expm1(0.1)))}
    return _fused(loss, params, settings)


def fused_gaussian2d(problem, settings):
    """Full-rank Gaussian q = loc + L eps with a softplus-diagonal Cholesky factor, Adam."""
    ops = jax_ops()
    particles = settings.particles

    def loss(params, key):
        eps = jax.random.normal(key, (particles, 2))
        raw = params["raw_tril"]
        tril = jnp.tril(raw, -1) + jnp.diag(jax.nn.softplus(jnp.diag(raw)))
        z = params["loc"] + eps @ tril.T
        log_q = jax.scipy.stats.multivariate_normal.logpdf(z, params["loc"], tril @ tril.T)
        log_p = problem.potential(ops, {"x": z[:, 0], "y": z[:, 1]})
        return -jnp.mean(log_p - log_q)

    raw = jnp.eye(2, dtype=jnp.float32) * np.log(np.expm1(0.1))
    return _fused(loss, {"loc": jnp.zeros(2, jnp.float32), "raw_tril": raw}, settings)


def _fused(loss, params, settings):
    optimizer = optax.adam(settings.learning_rate)

    def run(params, key):
        def step(carry, key):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss)(params, key)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        keys = jax.random.split(key, settings.steps)
        (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), keys)
        return params, losses

    key = jax.random.PRNGKey(0)
    compiled = jax.jit(run).lower(params, key).compile()
    return lambda: compiled(params, key)


def per_step(call, steps):
    start = perf_counter()
    jax.block_until_ready(call())
    return (perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    method = backends.get_method("numpyro.svi")
    cases = [("coinflip", "auto_normal", fused_coinflip), ("gaussian2d", "auto_mvn", fused_gaussian2d)]
    print(f"steps {args.steps}, repeats {args.repeats} (interleaved), jax {jax.__version__}, {jax.devices()[0]}")
    print(f"{'problem':<11} {'guide':<12} {'particles':>9} | {'microseconds per step':^38} | {'adapter / ...':^22}")
    print(
        f"{'':<11} {'':<12} {'':>9} | {'adapter':>11} {'update fused':>13} {'pure JAX':>12} |"
        f" {'update fused':>12} {'pure JAX':>9}"
    )
    for name, guide, pure in cases:
        problem = suites.get_problem(name)
        settings = method.make_settings(resolve_settings(method, problem, guide, {"steps": str(args.steps)}))
        loops = [adapter_loop(problem, settings), update_fused_by_hand(problem, settings), pure(problem, settings)]
        for loop in loops:
            per_step(loop, 1)  # first executions, untimed
        samples = [[], [], []]
        for _ in range(args.repeats):
            for loop, times in zip(loops, samples):
                times.append(per_step(loop, args.steps))
        adapter, fused, jax_only = (np.median(t) * 1e6 for t in samples)
        print(
            f"{name:<11} {guide:<12} {settings.particles:>9} | {adapter:>11.2f} {fused:>13.2f} {jax_only:>12.2f} |"
            f" {adapter / fused:>12.2f} {adapter / jax_only:>9.2f}"
        )


if __name__ == "__main__":
    main()
