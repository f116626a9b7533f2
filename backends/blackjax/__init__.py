"""BlackJAX backend: NUTS, random-walk Metropolis, mean-field and full-rank VI, and Pathfinder.

Every method runs on the problem's flat unconstrained JAX log density (NumPyro's translation of
the spec, `backends.jax_common.target`), compiled as one loop. Particle counts are settings with
the problem's recipe as default: BlackJAX's own default of 100 draws per VI step is never used
silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.jax_common.runtime import JAX
from backends.jax_common.settings import NUTSSettings
from bench.spec.methods import Method, recipe_defaults, require_positive, tuned_defaults
from bench.spec.runtime import BackendRuntime
from bench.spec.protocols import SCHEDULES

REQUIRES = ("jax", "blackjax", "numpyro", "optax")


@dataclass(frozen=True)
class RMHSettings:
    chains: int = 4
    warmup: int = 2000  # burn-in, in adaptation rounds of 100 iterations
    draws: int = 2000  # kept per chain, after thinning
    thin: int = 5
    target_accept: float = 0.234
    proposal_scale: float = 0.1  # initial random-walk sd; per-coordinate sds replace it once estimated

    def __post_init__(self) -> None:
        require_positive(self, "chains", "warmup", "draws", "thin", "proposal_scale")
        if not 0 < self.target_accept < 1:
            raise ValueError("target_accept must lie in (0, 1)")


OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class GaussianVISettings:
    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1  # draws per step of the ELBO gradient (BlackJAX's default is 100)
    optimizer: str = "adam"  # optax.adam, or optax.sgd (BlackJAX's own example)
    schedule: str = "constant"  # or "step_decay" (bench.spec.protocols.STEP_DECAY, the tuned protocol's)
    # starting sd of q in the unconstrained space; 0: BlackJAX's own start (mean-field exp(-2) = 0.135,
    # full-rank a unit Cholesky diagonal)
    init_scale: float = 0.0
    protocol: str = "recipe"  # how these settings were chosen (bench.spec.protocols); "tuned" runs the search

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles")
        if self.init_scale < 0:
            raise ValueError("init_scale must be >= 0 (0: BlackJAX's own start)")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")


def library_defaults(problem, variant: str) -> dict:
    """BlackJAX's own: 100 draws per step (the `num_samples` default of blackjax.meanfield_vi and
    blackjax.fullrank_vi, blackjax/vi/meanfield_vi.py, https://blackjax-devs.github.io/blackjax/autoapi/
    blackjax/vi/meanfield_vi/index.html) and the optimiser of its own example of the method
    (tests/vi/test_meanfield_vi.py: `optax.sgd(1e-2)`); BlackJAX's starting q. BlackJAX's API has no
    step count: the recipe's."""
    return {"particles": 100, "optimizer": "sgd", "learning_rate": 0.01, "init_scale": 0.0, "schedule": "constant"}


@dataclass(frozen=True)
class PathfinderSettings:
    maxiter: int = 30  # L-BFGS iterations
    maxcor: int = 10  # L-BFGS history
    elbo_draws: int = 200  # draws per ELBO estimate along the path (BlackJAX's default, stated)

    def __post_init__(self) -> None:
        require_positive(self, "maxiter", "maxcor", "elbo_draws")


METHODS = (
    Method("blackjax.nuts", NUTSSettings, "backends.blackjax.mcmc:fit_nuts", "blackjax", REQUIRES, kind="mcmc"),
    Method("blackjax.rmh", RMHSettings, "backends.blackjax.mcmc:fit_rmh", "blackjax", REQUIRES, kind="mcmc"),
    Method(
        "blackjax.meanfield_vi",
        GaussianVISettings,
        "backends.blackjax.vi:fit_meanfield",
        "blackjax",
        REQUIRES,
        defaults=recipe_defaults("blackjax.meanfield_vi"),
        library_defaults=library_defaults,
        tuned=tuned_defaults(),
    ),
    Method(
        "blackjax.fullrank_vi",
        GaussianVISettings,
        "backends.blackjax.vi:fit_fullrank",
        "blackjax",
        REQUIRES,
        defaults=recipe_defaults("blackjax.fullrank_vi"),
        library_defaults=library_defaults,
        tuned=tuned_defaults(),
    ),
    Method("blackjax.pathfinder", PathfinderSettings, "backends.blackjax.vi:fit_pathfinder", "blackjax", REQUIRES),
)

# BlackJAX compiles a function while it is imported (adaptation.step_size), which initialises a JAX
# backend: a fork server that imported it could not fork safely, so it preloads what comes before
# and each cell imports BlackJAX itself.
RUNTIME = BackendRuntime(
    JAX, packages=("blackjax", "numpyro", "optax"), preload=("backends.jax_common.target", "optax")
)
