"""torch.mh (random-walk Metropolis-Hastings) and torch.hmc (leapfrog HMC), chains batched.

Every chain advances in one vmapped log-density call per proposal. Adaptation happens during
burn-in only and entirely on the device: MH tunes a scalar proposal scale towards its target
acceptance (Robbins-Monro) over per-coordinate scales estimated mid burn-in; HMC tunes its step
size by dual averaging and its diagonal mass matrix from a burn-in window (as Stan does).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from backends.torch import HMCSettings, MHSettings
from backends.torch.target import TorchTarget, synchronize, torch_device, torch_dtype
from bench.spec.checkpoints import mcmc_prefixes
from bench.spec.fitting import FitContext, FitResult, time_repeats
from bench.spec.problem import Dataset, Problem


class Welford:
    """Running per-coordinate variance over chains and iterations (on the device)."""

    def __init__(self, dim: int, like: torch.Tensor) -> None:
        self.n = 0
        self.mean = torch.zeros(dim, dtype=like.dtype, device=like.device)
        self.m2 = torch.zeros_like(self.mean)

    def add(self, z: torch.Tensor) -> None:
        for row in z:
            self.n += 1
            delta = row - self.mean
            self.mean = self.mean + delta / self.n
            self.m2 = self.m2 + delta * (row - self.mean)

    def variance(self) -> torch.Tensor:
        var = self.m2 / max(self.n - 1, 1)
        return (self.n / (self.n + 5.0)) * var + 1e-3 * (5.0 / (self.n + 5.0))  # Stan's regularisation


def map_start(target: TorchTarget, chains: int, steps: int, lr: float, seed: int) -> torch.Tensor:
    """Each chain from its own init_to_median point (NumPyro's default), then a short MAP
    optimisation, then a little jitter."""
    z = target.initial_points(np.random.default_rng(seed), chains)
    if steps:
        log_joint = target.batched()
        with torch.enable_grad():  # the samplers themselves run under no_grad
            z = z.clone().requires_grad_(True)
            optimiser = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                optimiser.zero_grad()
                (-log_joint(z).sum()).backward()
                optimiser.step()
        z = z.detach()
    return z + 0.1 * torch.randn_like(z)


def _mh(target: TorchTarget, settings: MHSettings, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    chains, warmup, thin, kept = settings.chains, settings.warmup, settings.thin, settings.draws
    log_joint = target.batched()
    z = map_start(target, chains, settings.map_steps, settings.map_lr, seed)
    lp = log_joint(z)
    log_scale = torch.tensor(math.log(settings.proposal_scale), dtype=target.dtype, device=target.device)
    coordinate_sd = torch.ones(target.dim, dtype=target.dtype, device=target.device)
    window, window_end = Welford(target.dim, z), warmup // 2
    total = warmup + kept * thin
    samples = torch.empty(kept, chains, target.dim, dtype=target.dtype, device=target.device)
    trace = torch.empty(total, dtype=target.dtype, device=target.device)
    accepted = torch.zeros((), dtype=target.dtype, device=target.device)
    for i in range(total):
        proposal = z + torch.exp(log_scale) * coordinate_sd * torch.randn_like(z)
        lp_proposal = log_joint(proposal)
        accept = torch.log(torch.rand_like(lp)) < (lp_proposal - lp)
        z = torch.where(accept[:, None], proposal, z)
        lp = torch.where(accept, lp_proposal, lp)
        if i < warmup and settings.adapt:
            rate = accept.to(target.dtype).mean()
            log_scale = log_scale + (rate - settings.target_accept) / (1 + i) ** 0.6
            if warmup // 4 <= i < window_end:
                window.add(z)
            if i == window_end - 1 and window.n > 1:
                coordinate_sd = torch.sqrt(window.variance())
                log_scale = torch.tensor(
                    math.log(2.38 / math.sqrt(target.dim)), dtype=target.dtype, device=target.device
                )
        elif i >= warmup:
            accepted = accepted + accept.to(target.dtype).mean()
            if (i - warmup) % thin == 0:
                samples[(i - warmup) // thin] = z
        trace[i] = -lp.mean()
    return {"samples": samples, "trace": trace, "accept": accepted / (kept * thin), "divergences": torch.zeros(())}


def batched_grad_and_value(target: TorchTarget):
    """Per-chain gradients and log densities: autograd through the vmapped forward pass (chains are
    independent, so the gradient of the sum is each chain's gradient), 1.6x faster than vmap(grad)."""
    log_joint = target.batched()

    def grad_and_value(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            lp = log_joint(z)
            (grad,) = torch.autograd.grad(lp.sum(), z)
        return grad, lp.detach()

    return grad_and_value


def _leapfrog(grad_and_value, z, p, grad, step, inverse_mass, num_steps):
    """num_steps leapfrog steps from (z, p), grad the gradient at z (carried from the last
    iteration, not recomputed: num_steps gradients a proposal, as counted). Returns (z, p, lp, grad)."""
    p = p + 0.5 * step * grad
    for i in range(num_steps):
        z = z + step * inverse_mass * p
        grad, lp = grad_and_value(z)
        if i < num_steps - 1:
            p = p + step * grad
    return z, p + 0.5 * step * grad, lp, grad


def _hmc(target: TorchTarget, settings: HMCSettings, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    chains, warmup, thin, kept = settings.chains, settings.warmup, settings.thin, settings.draws
    grad_and_value = batched_grad_and_value(target)
    dtype, device = target.dtype, target.device
    z = map_start(target, chains, 0, 0.0, seed)
    grad, lp = grad_and_value(z)
    inverse_mass = torch.ones(target.dim, dtype=dtype, device=device)
    log_step = torch.tensor(math.log(settings.step_size), dtype=dtype, device=device)
    # dual averaging (Hoffman & Gelman 2014, section 3.2.1)
    mu, h_bar, log_step_bar, t = log_step + math.log(10.0), torch.zeros((), dtype=dtype, device=device), log_step, 0
    window, mass_at = Welford(target.dim, z), int(0.6 * warmup)
    total = warmup + kept * thin
    samples = torch.empty(kept, chains, target.dim, dtype=dtype, device=device)
    trace = torch.empty(total, dtype=dtype, device=device)
    accepted = torch.zeros((), dtype=dtype, device=device)
    divergences = torch.zeros((), dtype=dtype, device=device)
    for i in range(total):
        step = torch.exp(log_step)
        momentum = torch.randn_like(z) / torch.sqrt(inverse_mass)
        z_new, p_new, lp_new, grad_new = _leapfrog(
            grad_and_value, z, momentum, grad, step, inverse_mass, settings.num_steps
        )
        energy_change = (-lp_new + 0.5 * (p_new**2 * inverse_mass).sum(-1)) - (
            -lp + 0.5 * (momentum**2 * inverse_mass).sum(-1)
        )
        energy_change = torch.nan_to_num(energy_change, nan=float("inf"))
        accept_prob = torch.exp(torch.clamp(-energy_change, max=0.0))
        accept = torch.rand_like(lp) < accept_prob
        z, grad = torch.where(accept[:, None], z_new, z), torch.where(accept[:, None], grad_new, grad)
        lp = torch.where(accept, lp_new, lp)
        if i < warmup and settings.adapt:
            t += 1
            h_bar = (1 - 1 / (t + 10)) * h_bar + (settings.target_accept - accept_prob.mean()) / (t + 10)
            log_step = mu - math.sqrt(t) / 0.05 * h_bar
            weight = t**-0.75
            log_step_bar = weight * log_step + (1 - weight) * log_step_bar
            if settings.adapt_mass and int(0.15 * warmup) <= i < mass_at:
                window.add(z)
            if settings.adapt_mass and i == mass_at - 1 and window.n > 1:
                inverse_mass = window.variance()
                mu, h_bar, t = log_step + math.log(10.0), torch.zeros_like(h_bar), 0  # restart on the new metric
            if i == warmup - 1:
                log_step = log_step_bar
        elif i >= warmup:
            accepted = accepted + accept_prob.mean()
            divergences = divergences + (energy_change > 1000.0).to(dtype).sum()
            if (i - warmup) % thin == 0:
                samples[(i - warmup) // thin] = z
        trace[i] = -lp.mean()
    return {
        "samples": samples,
        "trace": trace,
        "accept": accepted / (kept * thin),
        "divergences": divergences,
        "step_size": torch.exp(log_step),
    }


def _fit(
    problem: Problem, data: Dataset, settings: MHSettings | HMCSettings, context: FitContext, sampler
) -> FitResult:
    device, dtype = torch_device(context.device), torch_dtype(context.dtype)
    torch.set_default_dtype(dtype)
    target = TorchTarget(problem, data.train, device, dtype)
    with torch.no_grad():  # gradients are taken explicitly, under enable_grad
        run = lambda: sampler(target, settings, context.seed)
        out, run_s, repeats_end = time_repeats(run, synchronize(device), context.repeats)
    samples = out["samples"].permute(1, 0, 2).reshape(-1, target.dim)  # chain-major: (chains * draws, D)
    iterations = settings.warmup + settings.draws * settings.thin
    leapfrogs = getattr(settings, "num_steps", 0)
    info = {
        "acceptance_rate": float(out["accept"]),
        "divergences": float(out["divergences"]),
        "torch_device": str(device),
        "computed_dtype": str(dtype),
    }
    if "step_size" in out:
        info["step_size"] = float(out["step_size"])
    draws = target.draws_to_numpy(samples.detach())
    return FitResult(
        draws=draws,
        log_q=None,
        losses=out["trace"].detach().cpu().numpy().astype(np.float64),
        compile_s=0.0,
        run_s=run_s,
        repeats_end=repeats_end,
        steps=iterations,
        grad_evals=iterations * settings.chains * leapfrogs if leapfrogs else None,
        info=info,
        chains=settings.chains,
        checkpoints=mcmc_prefixes(draws, settings.chains, settings.warmup, settings.thin),  # equal-cost steps
    )


def fit_mh(problem, data, settings, context) -> FitResult:
    return _fit(problem, data, settings, context, _mh)


def fit_hmc(problem, data, settings, context) -> FitResult:
    return _fit(problem, data, settings, context, _hmc)
