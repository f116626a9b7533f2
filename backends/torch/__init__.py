"""PyTorch backend: hand-written VI and MCMC on the problem's flat unconstrained log joint.

Methods: torch.vi (reparameterised mean-field Gaussian), torch.vi_score (score function with a
moving-average baseline), torch.mh (random-walk Metropolis-Hastings) and torch.hmc (leapfrog
HMC). torch itself loads only inside a cell's worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.torch.runtime import TORCH
from bench.spec.methods import Method, recipe_defaults, require_positive, tuned_defaults
from bench.spec.runtime import BackendRuntime
from bench.spec.protocols import SCHEDULES

REQUIRES = ("torch",)


@dataclass(frozen=True)
class VISettings:
    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1
    init_scale: float = 0.1  # initial sd of q in the unconstrained space (as NumPyro's AutoNormal)
    compile: bool = False  # compile the whole functional step with torch.compile (the tuned protocol does)
    schedule: str = "constant"  # or "step_decay" (bench.spec.protocols.STEP_DECAY, the tuned protocol's)
    protocol: str = "recipe"  # how these settings were chosen (bench.spec.protocols); "tuned" runs the search

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles", "init_scale")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")


def library_defaults(problem, variant: str) -> dict:
    """torch has no VI method of its own: `torch.optim.Adam`'s documented default learning rate 1e-3
    (https://pytorch.org/docs/stable/generated/torch.optim.Adam.html), one draw per step, and the
    starting scale 0.1 of Pyro's AutoNormal (pyro/infer/autoguide/guides.py; Pyro is torch's PPL);
    eager, torch's default mode; the recipe's steps (no library count to take)."""
    return {"learning_rate": 0.001, "particles": 1, "init_scale": 0.1, "compile": False, "schedule": "constant"}


@dataclass(frozen=True)
class ScoreSettings(VISettings):
    particles: int = 256  # the seed's batch of draws per step: the estimator needs many
    baseline_decay: float = 0.9  # moving average of the mean log weight, subtracted as a control variate

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.baseline_decay < 1:
            raise ValueError("baseline_decay must lie in [0, 1)")


@dataclass(frozen=True)
class MHSettings:
    chains: int = 4
    draws: int = 2000  # kept per chain, after thinning
    warmup: int = 2000
    thin: int = 5
    proposal_scale: float = 0.1  # initial random-walk sd (times per-coordinate sds once adapted)
    adapt: bool = True  # tune the scale during warm-up towards target_accept
    target_accept: float = 0.234
    map_steps: int = 200  # the seed's short MAP warm start (Adam); 0 starts at the central point
    map_lr: float = 0.01

    def __post_init__(self) -> None:
        require_positive(self, "chains", "draws", "warmup", "thin", "proposal_scale", "map_lr")
        if not 0 < self.target_accept < 1 or self.map_steps < 0:
            raise ValueError("target_accept must lie in (0, 1) and map_steps be >= 0")


@dataclass(frozen=True)
class HMCSettings:
    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    thin: int = 1
    step_size: float = 0.25  # the seed's; adapted by dual averaging during warm-up
    num_steps: int = 20  # leapfrog steps per proposal (path length = num_steps * step_size)
    adapt: bool = True
    adapt_mass: bool = True  # diagonal mass matrix from a warm-up window
    target_accept: float = 0.9  # above Stan's 0.8: the banana's curved tails diverge at 0.8

    def __post_init__(self) -> None:
        require_positive(self, "chains", "draws", "warmup", "thin", "step_size", "num_steps")
        if not 0 < self.target_accept < 1:
            raise ValueError("target_accept must lie in (0, 1)")


METHODS = (
    # tuned: compiled whole (torch.compile), torch's fastest form, as the JAX methods are compiled
    Method(
        "torch.vi",
        VISettings,
        "backends.torch.vi:fit_reparam",
        "torch",
        REQUIRES,
        defaults=recipe_defaults("torch.vi"),
        library_defaults=library_defaults,
        tuned=tuned_defaults(compile=True),
    ),
    Method(
        "torch.vi_score",
        ScoreSettings,
        "backends.torch.vi:fit_score",
        "torch",
        REQUIRES,
        defaults=recipe_defaults("torch.vi_score", particles=False),
    ),
    Method("torch.mh", MHSettings, "backends.torch.mcmc:fit_mh", "torch", REQUIRES, kind="mcmc"),
    Method("torch.hmc", HMCSettings, "backends.torch.mcmc:fit_hmc", "torch", REQUIRES, kind="mcmc"),
)

RUNTIME = BackendRuntime(TORCH)
