"""NumPyro backend: `numpyro.svi` with auto and custom guides, and `numpyro.nuts` (the framework loads lazily)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.jax_common.runtime import JAX
from backends.jax_common.settings import NUTSSettings
from bench.spec.methods import Method, recipe_defaults, require_positive, tuned_defaults
from bench.spec.problem import Problem
from bench.spec.runtime import BackendRuntime

AUTO_GUIDES = ("auto_normal", "auto_mvn")
SCHEDULES = ("constant", "step_decay", "onecycle")
# The seeds' hand-written guides (backends.numpyro.guides); a problem's recipe names those that fit it.
CUSTOM_GUIDES = ("exp_normal", "beta", "normal", "mixture")


@dataclass(frozen=True)
class SVISettings:
    guide: str = "auto_normal"
    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1
    init_scale: float = 0.1  # initial scale of the auto guides (NumPyro's default)
    # "step_decay": bench.spec.protocols.STEP_DECAY (the tuned protocol's); "onecycle": the seed's OneCycle
    # (peak = learning_rate) + reduce-on-plateau
    schedule: str = "constant"
    early_stopping: bool = False  # the seed's rule: stop after `patience` steps of val loss/point > train loss/point
    patience: int = 200
    batch_size: int = 0  # 0: full batch; else plate subsampling with the likelihood scaled to the full data
    protocol: str = "recipe"  # how these settings were chosen (bench.spec.protocols); "tuned" runs the search

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles", "init_scale", "patience")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.batch_size < 0:
            raise ValueError("batch_size must be >= 0 (0 means full batch)")


def library_defaults(problem: Problem, variant: str) -> dict:
    """NumPyro's documented SVI example (the `SVI` class docstring, numpyro/infer/svi.py,
    https://num.pyro.ai/en/stable/svi.html): `numpyro.optim.Adam(step_size=0.0005)` (optax.adam here: the
    same update), `Trace_ELBO()` (num_particles=1), `svi.run(key, 2000, data)`; the auto guides'
    init_scale=0.1 (numpyro/infer/autoguide.py)."""
    return {"steps": 2000, "learning_rate": 0.0005, "particles": 1, "init_scale": 0.1, "schedule": "constant"}


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
        library_defaults=library_defaults,
        tuned=tuned_defaults(),
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
