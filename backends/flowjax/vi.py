"""flowjax.flow_vi: a FlowJAX normalising flow over the flat unconstrained space, fitted by the
negative ELBO (FlowJAX's `ElboLoss`) with Adam.

FlowJAX's own `fit_to_key_based_loss` steps in a Python loop and reads every loss back to the host;
here the same loss and update run as one compiled `lax.scan` (parameters and static parts split with
equinox, as FlowJAX does), compiled ahead of time, with the checkpoint snapshots of the parameters
(`backends.jax_common.segments`). The flow is built with `invert=False`: sampling with its log
density is the cheap direction, the one the ELBO needs. Draws come back constrained, log q corrected
by the transforms' log-Jacobians, so the common ELBO and k-hat apply.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import paramax
from flowjax.distributions import Normal
from flowjax.flows import block_neural_autoregressive_flow, masked_autoregressive_flow
from flowjax.train.losses import ElboLoss

from backends.flowjax import FlowVISettings
from backends.jax_common.compile import compile_and_time, harness_jit, require_jax_device
from backends.jax_common.model import data_device
from backends.jax_common.segments import checkpoint_steps, scan_with_snapshots, snapshot_at
from backends.jax_common.target import JaxTarget
from bench.spec.checkpoints import vi_checkpoints
from bench.spec.fitting import FitContext, FitResult
from bench.spec.problem import Dataset, Problem


def make_flow(settings: FlowVISettings, dim: int, dtype, key):
    """The flow on R^dim over a standard normal base."""
    base = Normal(jnp.zeros(dim, dtype=dtype))
    if settings.flow == "maf":
        return masked_autoregressive_flow(
            key, base_dist=base, flow_layers=settings.flow_depth, nn_width=settings.flow_hidden, invert=False
        )
    return block_neural_autoregressive_flow(
        key, base_dist=base, flow_layers=settings.flow_depth, nn_block_dim=settings.flow_hidden, invert=False
    )


def split(flow):
    """(trainable parameters, static rest), as FlowJAX's training loops split a flow."""
    return eqx.partition(flow, eqx.is_inexact_array, is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))


def sampler(static, key, num: int):
    """draw(params) -> (num flat unconstrained draws, their log q), compiled once."""
    return harness_jit(lambda params: paramax.unwrap(eqx.combine(params, static)).sample_and_log_prob(key, (num,)))


def constrained_draws(target: JaxTarget, draw, params) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Constrained draws and their log q (the flow's, less the transforms' log-Jacobians)."""
    z, log_q = draw(params)
    return target.draws_to_numpy(z), target.log_q_constrained(z, log_q)


def fit(problem: Problem, data: Dataset, settings: FlowVISettings, context: FitContext) -> FitResult:
    require_jax_device(context.device)
    dtype = jnp.float64 if context.dtype == "float64" else jnp.float32
    target = JaxTarget(problem, data.train, dtype)
    init_key, fit_key, draw_key = jax.random.split(jax.random.key(context.seed), 3)  # FlowJAX takes typed keys
    params0, static = split(make_flow(settings, target.dim, dtype, init_key))
    loss = ElboLoss(target.logdensity, num_samples=settings.particles)
    optimizer = optax.adam(settings.learning_rate)
    steps = settings.steps
    keep = checkpoint_steps(steps)

    def run(params, key):
        def step(carry, k):
            params, opt_state = carry
            value, grads = eqx.filter_value_and_grad(loss)(params, static, k)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (eqx.apply_updates(params, updates), opt_state), value

        carry = (params, optimizer.init(params))
        (params, _), losses, snapshots = scan_with_snapshots(
            step, carry, steps, keep, lambda c: c[0], xs=jax.random.split(key, steps)
        )
        return params, losses, snapshots

    (params, losses, snapshots), compile_s, run_s, repeats_end = compile_and_time(
        run, (params0, fit_key), context.repeats
    )

    draw = sampler(static, draw_key, context.draws)  # one compiled sampler for the final flow and every checkpoint's
    draws, log_q = constrained_draws(target, draw, params)

    def sampler_at(index: int):
        then = snapshot_at(snapshots, index)

        def at(num: int):
            if num > context.draws:
                then_flow = paramax.unwrap(eqx.combine(then, static))
                return target.draws_to_numpy(then_flow.sample(draw_key, (num,)))
            return target.draws_to_numpy(draw(then)[0][:num])

        return at

    return FitResult(
        draws=draws,
        log_q=log_q,
        losses=np.asarray(losses, dtype=np.float64),
        compile_s=compile_s,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=steps,
        grad_evals=steps * settings.particles,
        info={
            "jax_backend": jax.default_backend(),
            "computed_dtype": str(losses.dtype),
            "data_device": data_device(target.kwargs),
            "flow": settings.flow,
        },
        checkpoints=vi_checkpoints(keep, steps, sampler_at),
    )
