"""Protocols: how a VI method's optimiser settings are chosen, one named rule for every library.

- `recipe`: the seeds' training recipes (the problem's `Recipe`): today's behaviour.
- `defaults`: each library's own documented defaults for its method (its optimiser, learning rate,
  draws per step and starting scale), each default's source named beside it in the backend.
- `tuned`: Agrawal, Domke & Sheldon (2020), "Advances in black-box VI: normalizing flows, importance
  weighting, and optimization" (NeurIPS): a step-size search at an equal budget. Every candidate
  learning rate (LEARNING_RATES, log-spaced from 0.1 to 0.001) runs the same gradient budget (the
  recipe's steps x particles) from the same start (the same q scale, TUNED_INIT_SCALE, for every
  library), with a step decay (STEP_DECAY) that removes the constant step's noise floor; each
  candidate is scored by its final ELBO on fresh draws from q (SELECTION_DRAWS), never by the
  reference, and the best is kept; a grid whose winning edge is not bracketed goes on past it
  (EXTENSIONS). The search's record (every candidate's learning rate and ELBO,
  the chosen one, its whole cost) goes into the record's `info["tuning"]`.

The protocol is a resolved setting of every cell (`settings["protocol"]`), so it is part of the
cell's content hash; samplers adapt their own step sizes and carry the protocol as a label only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.spec.errors import unknown

PROTOCOLS = ("recipe", "defaults", "tuned")
DEFAULT_PROTOCOL = "recipe"

# The tuned search: five log-spaced learning rates from 0.1 down to 0.001 (Agrawal et al. 2020 search
# a log grid of step sizes and keep the one whose final ELBO is best).
LEARNING_RATES = tuple(float(f"{10**e:.4g}") for e in np.linspace(-1, -3, 5))  # 0.1, 0.03162, 0.01, 0.003162, 0.001
# Step decay: the learning rate drops tenfold at half and again at three quarters of the steps
# (optax.piecewise_constant_schedule's form), so the last quarter runs at lr / 100: the constant
# step's noise floor goes (a constant step left sd ratios of up to 1.7 on nes2000 at 50,000 steps).
STEP_DECAY = ((0.5, 0.1), (0.75, 0.1))  # (fraction of the steps, factor applied from there on)
# The one starting scale of q (sd in the unconstrained space) under `tuned`, for every library:
# NumPyro's AutoNormal default (and Pyro's), small enough not to swamp a standardised posterior.
TUNED_INIT_SCALE = 0.1
SELECTION_DRAWS = 1000  # fresh draws from q behind each candidate's final ELBO estimate
# A grid that does not bracket the optimum: when the best candidate is the grid's largest (or
# smallest) rate and beats its neighbour by more than EDGE_MARGIN nats, the search goes on past that
# edge with these rates (every library alike) and keeps the best of all. PyMC's full-rank ADVI gained
# 4 to 5 nats from 0.03 to 0.1 on nes2000 and earnings: without going past 0.1 the search could not
# say 0.1 was its best (past it, 0.316 lost thousands of nats and 1 diverged: it was).
EXTENSIONS = {"up": (0.3162, 1.0), "down": (0.0003162, 0.0001)}
EDGE_MARGIN = 0.1
SCHEDULES = ("constant", "step_decay")


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise unknown("protocol", name, PROTOCOLS)
    return name


def decay_boundaries(steps: int) -> dict[int, float]:
    """{step: factor}: optax.piecewise_constant_schedule's boundaries_and_scales for `steps` steps."""
    return {max(1, int(fraction * steps)): factor for fraction, factor in STEP_DECAY}


def decay_factor(step: int, steps: int) -> float:
    """The multiplier of the learning rate at (0-based) `step`: what the optax schedule gives, for the
    libraries that step in Python (PyMC, torch)."""
    factor = 1.0
    for boundary, scale in decay_boundaries(steps).items():
        if step >= boundary:
            factor *= scale
    return factor


def learning_rate_at(learning_rate: float, schedule: str, step: int, steps: int) -> float:
    return learning_rate * (decay_factor(step, steps) if schedule == "step_decay" else 1.0)


@dataclass
class Tuning:
    """One search's record: every candidate's learning rate and final ELBO (NaN where it diverged),
    the chosen rate, and the whole search's cost (gradient evaluations, seconds, compiled programs).
    `learning_rates` includes any extension past a winning edge of the grid (EXTENSIONS)."""

    learning_rates: list[float]
    elbos: list[float]
    chosen: float
    grad_evals: int
    seconds: float
    selection_draws: int = SELECTION_DRAWS
    schedule: str = "step_decay"
    batched: bool = False  # the candidates ran as one vectorised program (JAX) rather than one after another
    compile_s: float = 0.0  # of the search's program(s), inside `seconds`
    notes: dict[str, Any] = field(default_factory=dict)

    def to_info(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None), for record.info["tuning"]."""
        out = asdict(self)
        out["elbos"] = [float(e) if math.isfinite(e) else None for e in self.elbos]
        return out


def choose(learning_rates: Sequence[float], elbos: Sequence[float]) -> float:
    """The learning rate with the highest final ELBO; non-finite ELBOs (diverged candidates) lose.
    FloatingPointError when every candidate diverged (the cell is `diverged`)."""
    values = np.asarray(elbos, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        raise FloatingPointError("tuned: every learning-rate candidate diverged")
    return float(learning_rates[int(np.argmax(np.where(finite, values, -np.inf)))])


def extension(learning_rates: Sequence[float], elbos: Sequence[float]) -> tuple[float, ...]:
    """The rates to try next when the best of (learning_rates, elbos) is an edge of the grid that won
    by more than EDGE_MARGIN over its neighbour (and that edge has not been extended yet); else ()."""
    values = np.where(np.isfinite(np.asarray(elbos, dtype=np.float64)), elbos, -np.inf)
    order = np.argsort(learning_rates)  # ascending rates
    ranked = values[order]
    best = int(np.argmax(ranked))
    if not np.isfinite(ranked[best]) or len(ranked) < 2:
        return ()
    rates = set(learning_rates)
    if best == len(ranked) - 1 and ranked[best] - ranked[best - 1] > EDGE_MARGIN:
        return tuple(r for r in EXTENSIONS["up"] if r not in rates)
    if best == 0 and ranked[0] - ranked[1] > EDGE_MARGIN:
        return tuple(r for r in EXTENSIONS["down"] if r not in rates)
    return ()


def candidate_rates(rates: list[float], elbos: list[float]):
    """The candidates one after another (PyMC, torch): the grid's rates, then (once) its extension past
    a winning edge. `rates` grows by the extension; append each candidate's ELBO to `elbos` before
    asking for the next rate."""
    index = 0
    extended = False
    while index < len(rates):
        yield rates[index]
        index += 1
        if index == len(rates) and not extended:
            extended = True
            rates.extend(extension(rates, elbos))
