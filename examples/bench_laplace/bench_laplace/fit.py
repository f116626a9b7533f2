"""A Laplace approximation on the problem's own numpy log joint: the mode of the unconstrained log
density (L-BFGS) and a Gaussian with the inverse Hessian there, mapped back to each latent's support."""

from __future__ import annotations

from time import perf_counter

import numpy as np
from scipy import optimize, special, stats

from bench.spec.draws import flat_layout
from bench.spec.fitting import FitResult


def _constrain(problem, z: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Constrained values of flat points z (S, D) and log|dx/dz| per point."""
    blocks, _ = flat_layout(problem.latents)
    values, log_jac = {}, np.zeros(len(z))
    for b in blocks:
        u, support = z[:, b.start : b.stop], b.prior.support
        if support.kind == "real":
            x = u
        elif support.kind == "positive":
            x, log_jac = np.exp(u), log_jac + u.sum(axis=1)
        else:
            width = support.high - support.low
            x = support.low + width * special.expit(u)
            log_jac = log_jac + (np.log(width) + special.log_expit(u) + special.log_expit(-u)).sum(axis=1)
        values[b.name] = x.reshape(len(z), *b.shape)
    return values, log_jac


def _hessian(f, z: np.ndarray, h: float) -> np.ndarray:
    d = len(z)
    eye = np.eye(d) * h
    H = np.empty((d, d))
    for i in range(d):
        for j in range(i, d):
            H[i, j] = H[j, i] = (
                f(z + eye[i] + eye[j]) - f(z + eye[i] - eye[j]) - f(z - eye[i] + eye[j]) + f(z - eye[i] - eye[j])
            ) / (4 * h * h)
    return H


def fit(problem, data, settings, context) -> FitResult:
    _, dim = flat_layout(problem.latents)

    def negative_log_density(z: np.ndarray) -> float:
        values, log_jac = _constrain(problem, z[None])
        return -(problem.log_joint({k: v[0] for k, v in values.items()}, data) + log_jac[0])

    losses: list[float] = []
    run_s = []
    for _ in range(context.repeats):  # each repeat is the whole fit, timed
        losses.clear()
        start = perf_counter()
        mode = optimize.minimize(
            negative_log_density,
            np.zeros(dim),
            method="L-BFGS-B",
            options={"maxiter": settings.max_iterations},
            callback=lambda z: losses.append(negative_log_density(z)),
        )
        covariance = np.linalg.inv(_hessian(negative_log_density, mode.x, settings.step))
        run_s.append(perf_counter() - start)
    q = stats.multivariate_normal(mode.x, covariance, allow_singular=False)
    z = np.reshape(q.rvs(size=context.draws, random_state=np.random.default_rng(context.seed)), (context.draws, dim))
    draws, log_jac = _constrain(problem, z)
    return FitResult(
        draws=draws,
        log_q=q.logpdf(z) - log_jac,
        losses=np.asarray(losses or [mode.fun]),
        compile_s=0.0,
        run_s=run_s,
        steps=int(mode.nit),
        info={"converged": bool(mode.success)},
    )
