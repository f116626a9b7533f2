"""NumPyro backend: `numpyro.svi` with auto and custom guides, and `numpyro.nuts` (the framework loads lazily)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.jax_common.runtime import JAX
from backends.jax_common.settings import NUTSSettings
from bench.spec.methods import Method, recipe_defaults, require_positive
from bench.spec.problem import Problem
from bench.spec.runtime import BackendRuntime

AUTO_GUIDES = ("auto_normal", "auto_mvn")
SCHEDULES = ("constant", "onecycle")
# The seeds' hand-written guides (backends.numpyro.guides); a problem's recipe names those that fit it.
CUSTOM_GUIDES = ("exp_normal", "beta", "normal", "mixture")


@dataclass(frozen=True)
class SVISettings:
    guide: str = "auto_normal"
    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1
    init_scale: float = 0.1  # initial scale of the auto guides (NumPyro's default)
    schedule: str = "constant"  # or "onecycle": the seed's OneCycle (peak = learning_rate) + reduce-on-plateau
    early_stopping: bool = False  # the seed's rule: stop after `patience` steps of val loss/point > train loss/point
    patience: int = 200
    batch_size: int = 0  # 0: full batch; else plate subsampling with the likelihood scaled to the full data

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles", "init_scale", "patience")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.batch_size < 0:
            raise ValueError("batch_size must be >= 0 (0 means full batch)")


def guides_for(problem: Problem) -> list[str]:
    return list(AUTO_GUIDES) + list(problem.recipe.guides)


METHODS = (
    Method(
        name="numpyro.svi",
        settings=SVISettings,
        fit="backends.numpyro.svi:fit",
        extra="numpyro",
        requires=("jax", "numpyro", "optax"),
        variant_setting="guide",
        variants=guides_for,
        known_variants=AUTO_GUIDES + CUSTOM_GUIDES,
        defaults=recipe_defaults("numpyro.svi"),
    ),
    Method(
        name="numpyro.nuts",
        settings=NUTSSettings,
        fit="backends.numpyro.nuts:fit",
        extra="numpyro",
        requires=("jax", "numpyro"),
        kind="mcmc",
    ),
)

RUNTIME = BackendRuntime(JAX, packages=("numpyro", "optax"))
