"""NumPyro backend: `numpyro.svi` with auto and custom guides, and `numpyro.nuts` (the framework loads lazily)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from backends.jax_common.runtime import JAX
from backends.jax_common.settings import NUTSSettings
from bench.spec.methods import Method, recipe_defaults, require_positive, tuned_defaults
from bench.spec.problem import Problem
from bench.spec.runtime import BackendRuntime

AUTO_GUIDES = ("auto_normal", "auto_mvn")
# Normalising-flow guides (NumPyro's AutoIAFNormal, AutoBNAFNormal): NumPyro builds them for 2 or more
# unconstrained dimensions only. Depth and width are settings (flow_depth, flow_hidden), per guide:
FLOW_GUIDES = ("auto_iaf", "auto_bnaf")
FLOW_DEFAULTS = {
    # 3 IAF layers (NumPyro's default), each an autoregressive net with two hidden layers of 32 units
    # (NumPyro's default is latent-dim units, 2 on the 2-D toys)
    "auto_iaf": {"flow_depth": 3, "flow_hidden": 32},
    # 1 block neural autoregressive flow with two hidden layers of 8 units per dimension (NumPyro's defaults)
    "auto_bnaf": {"flow_depth": 1, "flow_hidden": 8},
}
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
    flow_depth: int = 3  # flow guides: stacked flows (IAF layers, BNAF blocks); other guides ignore it
    flow_hidden: int = 32  # flow guides: IAF hidden units per layer (2 layers); BNAF hidden units per dimension

    def __post_init__(self) -> None:
        require_positive(
            self, "steps", "learning_rate", "particles", "init_scale", "patience", "flow_depth", "flow_hidden"
        )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.batch_size < 0:
            raise ValueError("batch_size must be >= 0 (0 means full batch)")


def library_defaults(problem: Problem, variant: str) -> dict:
    """NumPyro's documented SVI example (the `SVI` class docstring, numpyro/infer/svi.py,
    https://num.pyro.ai/en/stable/svi.html): `numpyro.optim.Adam(step_size=0.0005)` (optax.adam here: the
    same update), `Trace_ELBO()` (num_particles=1), `svi.run(key, 2000, data)`; the auto guides'
    init_scale=0.1 (numpyro/infer/autoguide.py)."""
    return {
        "steps": 2000,
        "learning_rate": 0.0005,
        "particles": 1,
        "init_scale": 0.1,
        "schedule": "constant",
        **FLOW_DEFAULTS.get(variant, {}),
    }


def flow_unsupported(problem: Problem) -> str | None:
    dim = sum(math.prod(lat.shape) for lat in problem.latents)
    if dim < 2:
        return f"NumPyro's flow guides need 2 or more latent dimensions, and {problem.name} has {dim}"
    return None


def guides_for(problem: Problem) -> list[str]:
    flows = [] if flow_unsupported(problem) else list(FLOW_GUIDES)
    return list(AUTO_GUIDES) + flows + list(problem.recipe.guides)


def svi_defaults(problem: Problem, variant: str) -> dict:
    """The problem's recipe, then the flow guides' depth and width."""
    return {**recipe_defaults("numpyro.svi")(problem, variant), **FLOW_DEFAULTS.get(variant, {})}


METHODS = (
    Method(
        name="numpyro.svi",
        settings=SVISettings,
        fit="backends.numpyro.svi:fit",
        extra="numpyro",
        requires=("jax", "numpyro", "optax"),
        variant_setting="guide",
        variants=guides_for,
        known_variants=AUTO_GUIDES + FLOW_GUIDES + CUSTOM_GUIDES,
        defaults=svi_defaults,
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
