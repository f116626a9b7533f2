"""torch.vi (reparameterised) and torch.vi_score (score function with a moving-average baseline).

Mean-field Gaussian q in the unconstrained space. Each step is a pure function of tensors
(parameters, Adam moments, baseline) built with torch.func, so it runs eagerly or compiled whole
with torch.compile. Losses stay on the device: the timed loop never reads a value back; the
parameters are copied on the device at the checkpoint schedule's steps (time to accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from time import monotonic, perf_counter

import numpy as np
import torch

from backends.torch import VISettings
from backends.torch.target import TorchTarget, synchronize, torch_device, torch_dtype
from bench.spec.checkpoints import schedule, vi_checkpoints
from bench.spec.fitting import FitContext, FitResult, time_repeats
from bench.spec.protocols import LEARNING_RATES, SELECTION_DRAWS, Tuning, candidate_rates, choose, decay_boundaries
from bench.spec.problem import Dataset, Problem

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8

State = dict[str, torch.Tensor]


def adam(params: State, grads: State, state: State, lr: float) -> tuple[State, State]:
    """Functional Adam, in torch.optim.Adam's form: the bias corrections once per step, fused ops
    per parameter (eagerly every op is a dispatch: 25 ops a step for two parameters, not 37)."""
    t = state["t"] + 1
    step_size = lr / (1 - BETA1**t)
    root_bias2 = torch.sqrt(1 - BETA2**t)
    new_state: State = {"t": t}
    new_params: State = {}
    for k in params:
        m = torch.lerp(state[f"m_{k}"], grads[k], 1 - BETA1)
        v = torch.addcmul(BETA2 * state[f"v_{k}"], grads[k], grads[k], value=1 - BETA2)
        new_state[f"m_{k}"], new_state[f"v_{k}"] = m, v
        new_params[k] = params[k] - step_size * (m / (torch.sqrt(v) / root_bias2 + ADAM_EPS))
    return new_params, new_state


def log_q(params: State, z: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag sigma^2), summed over the last axis."""
    eps = (z - params["mu"]) / torch.exp(params["log_sigma"])
    return (-0.5 * eps * eps - params["log_sigma"] - HALF_LOG_2PI).sum(-1)


def reparam_step(target: TorchTarget, particles: int, functional: bool) -> Callable:
    """One reparameterised step, step(params, state, lr). functional=True differentiates with torch.func
    (a pure function torch.compile takes whole); eagerly, autograd through the vmapped forward is 1.5x
    faster. lr is a 0-d tensor: the step decay and the tuned search change it without a recompile."""
    log_joint = target.batched()

    def negative_elbo(params: State, eps: torch.Tensor) -> torch.Tensor:
        z = params["mu"] + torch.exp(params["log_sigma"]) * eps
        # log q(z) at z = mu + sigma eps is log N(eps; 0, 1) - sum log sigma: the same value and
        # gradient as log_q(params, z), without recovering eps from z (fewer ops a step)
        log_q_z = (-0.5 * eps * eps - HALF_LOG_2PI).sum(-1) - params["log_sigma"].sum()
        return -(log_joint(z) - log_q_z).mean()

    def autograd_grad_and_loss(params: State, eps: torch.Tensor) -> tuple[State, torch.Tensor]:
        with torch.enable_grad():
            leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
            loss = negative_elbo(leaves, eps)
            grads = torch.autograd.grad(loss, list(leaves.values()))
        return dict(zip(leaves, grads)), loss.detach()

    grad_and_loss = torch.func.grad_and_value(negative_elbo) if functional else autograd_grad_and_loss

    def step(params: State, state: State, lr: torch.Tensor) -> tuple[State, State, torch.Tensor]:
        eps = torch.randn(particles, target.dim, dtype=target.dtype, device=target.device)
        grads, loss = grad_and_loss(params, eps)
        params, state = adam(params, grads, state, lr)
        return params, state, loss

    return step


def score_step(target: TorchTarget, particles: int, decay: float) -> Callable:
    """REINFORCE: grad ELBO = E_q[(log p - log q - b) grad log q], b a moving average of log p - log q."""
    log_joint = target.batched()

    def surrogate(params: State, z: torch.Tensor, advantage: torch.Tensor) -> torch.Tensor:
        return -(advantage * log_q(params, z)).mean()

    grad = torch.func.grad(surrogate)

    def step(params: State, state: State, lr: torch.Tensor) -> tuple[State, State, torch.Tensor]:
        eps = torch.randn(particles, target.dim, dtype=target.dtype, device=target.device)
        z = params["mu"] + torch.exp(params["log_sigma"]) * eps  # no gradient flows through the draws
        weights = log_joint(z) - log_q(params, z)
        grads = grad(params, z, weights - state["baseline"])
        baseline = decay * state["baseline"] + (1 - decay) * weights.mean()
        params, adam_state = adam(params, grads, {k: v for k, v in state.items() if k != "baseline"}, lr)
        return params, {**adam_state, "baseline": baseline}, -weights.mean()

    return step


def initial(target: TorchTarget, init_scale: float, with_baseline: bool, seed: int) -> tuple[State, State]:
    """q starts where NumPyro's AutoNormal does (init_to_median, scale init_scale), so the two
    backends are compared from the same start. (An all-zero start is a symmetric saddle for
    networks: it cost 150 nats of ELBO on moons.)"""
    zeros = torch.zeros(target.dim, dtype=target.dtype, device=target.device)
    mu = target.initial_points(np.random.default_rng(seed), 1)[0]
    params = {"mu": mu, "log_sigma": torch.full_like(zeros, math.log(init_scale))}
    state = {"t": torch.zeros((), dtype=target.dtype, device=target.device)}
    for k in params:
        state[f"m_{k}"], state[f"v_{k}"] = zeros.clone(), zeros.clone()
    if with_baseline:
        state["baseline"] = torch.zeros((), dtype=target.dtype, device=target.device)
    return params, state


def _fit(problem: Problem, data: Dataset, settings: VISettings, context: FitContext, score: bool) -> FitResult:
    device, dtype = torch_device(context.device), torch_dtype(context.dtype)
    torch.set_default_dtype(dtype)
    target = TorchTarget(problem, data.train, device, dtype)
    if score:
        step = score_step(target, settings.particles, settings.baseline_decay)
    else:
        step = reparam_step(target, settings.particles, functional=settings.compile)
    sync = synchronize(device)
    sync(None)  # the host-to-device copy of the data (TorchTarget) is done before any clock starts

    def rate(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=dtype, device=device)

    compile_s = 0.0
    if settings.compile:
        step = torch.compile(step, dynamic=False)
        timings = []
        for _ in range(2):  # compile time = first call - warm call, in the grad mode the fit runs in (no
            params, state = initial(target, settings.init_scale, score, context.seed)  # recompile later)
            start = perf_counter()
            with torch.no_grad():
                sync(step(params, state, rate(settings.learning_rate)))
            timings.append(perf_counter() - start)
        compile_s = max(timings[0] - timings[1], 0.0)

    steps = settings.steps
    keep_at = set(schedule(steps))
    decay = decay_boundaries(steps) if settings.schedule == "step_decay" else {}

    def run_once(learning_rate: float):
        torch.manual_seed(context.seed)  # every repeat (and every candidate) starts from the same fit
        params, state = initial(target, settings.init_scale, score, context.seed)
        losses = torch.empty(steps, dtype=dtype, device=device)
        kept: dict[int, State] = {}
        lr, current = rate(learning_rate), learning_rate
        for i in range(steps):
            if i in decay:  # the step decay: a new rate tensor at its two boundaries
                current *= decay[i]
                lr = rate(current)
            params, state, loss = step(params, state, lr)
            losses[i] = loss  # stays on the device
            if i + 1 in keep_at:  # a device-side copy of two vectors for time to accuracy; no sync
                kept[i + 1] = {k: v.clone() for k, v in params.items()}
        return params, losses, kept

    def draw(params: State, num: int, seed: int | None = None) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(context.seed + 1 if seed is None else seed)
        eps = torch.randn(num, target.dim, dtype=dtype, device=device, generator=generator)
        return params["mu"] + torch.exp(params["log_sigma"]) * eps

    tuning = None
    with torch.no_grad():
        if settings.protocol == "tuned":
            (params, losses, kept), run_s, repeats_end, tuning = _search(
                run_once, sync, draw, target, settings, context
            )
        else:
            (params, losses, kept), run_s, repeats_end = time_repeats(
                lambda: run_once(settings.learning_rate), sync, context.repeats
            )
        z = draw(params, context.draws)
        log_q_constrained = log_q(params, z) - target.log_abs_det_jacobian(z)
        draws = target.draws_to_numpy(z)

    def sampler_at(index: int):
        then = kept[sorted(kept)[index]]

        def sample(num: int):
            with torch.no_grad():
                return target.draws_to_numpy(draw(then, num))

        return sample

    candidates = len(tuning.learning_rates) if tuning else 1
    return FitResult(
        draws=draws,
        log_q=log_q_constrained.cpu().numpy().astype("float64"),
        losses=losses.cpu().numpy().astype("float64"),
        compile_s=compile_s,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=steps,
        grad_evals=steps * settings.particles * candidates,
        checkpoints=vi_checkpoints(sorted(kept), steps, sampler_at),
        info={
            "torch_device": str(device),
            "compiled": bool(settings.compile),
            "computed_dtype": str(dtype),
            "data_device": None if target.y is None else str(target.y.device),
            **({"tuning": tuning.to_info()} if tuning else {}),
        },
        iterative=True,
    )


def _search(run_once, sync, draw, target: TorchTarget, settings: VISettings, context: FitContext):
    """The tuned protocol's candidates one after another in this worker, through the one (compiled)
    step: each from the same start and random stream, scored by log p - log q over SELECTION_DRAWS
    fresh draws; the best candidate's own fit is kept. run_s: the whole search, once."""
    log_joint = target.batched()
    results, elbos, seconds, rates = [], [], [], list(LEARNING_RATES)
    start = perf_counter()
    for learning_rate in candidate_rates(rates, elbos):
        began = perf_counter()
        out = sync(run_once(learning_rate))
        seconds.append(perf_counter() - began)
        params, losses, _ = out
        z = draw(params, SELECTION_DRAWS, seed=context.seed + 2)
        elbo = float((log_joint(z) - log_q(params, z)).mean()) if bool(torch.isfinite(losses).all()) else float("nan")
        results.append(out)
        elbos.append(elbo)
    chosen = choose(rates, elbos)
    tuning = Tuning(
        learning_rates=rates,
        elbos=elbos,
        chosen=chosen,
        grad_evals=len(rates) * settings.steps * settings.particles,
        seconds=perf_counter() - start,
        notes={"candidate_seconds": seconds, "compiled": settings.compile},
    )
    return results[rates.index(chosen)], [float(sum(seconds))], monotonic(), tuning


def fit_reparam(problem, data, settings, context) -> FitResult:
    return _fit(problem, data, settings, context, score=False)


def fit_score(problem, data, settings, context) -> FitResult:
    return _fit(problem, data, settings, context, score=True)
