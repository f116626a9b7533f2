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
from bench.spec.methods import Method, recipe_defaults, require_positive
from bench.spec.runtime import BackendRuntime

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


@dataclass(frozen=True)
class GaussianVISettings:
    steps: int = 5000
    learning_rate: float = 0.01
    particles: int = 1  # draws per step of the ELBO gradient (BlackJAX's default is 100)

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles")


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
    Method("blackjax.meanfield_vi", GaussianVISettings, "backends.blackjax.vi:fit_meanfield", "blackjax", REQUIRES,
           defaults=recipe_defaults("blackjax.meanfield_vi")),  # fmt: skip
    Method("blackjax.fullrank_vi", GaussianVISettings, "backends.blackjax.vi:fit_fullrank", "blackjax", REQUIRES,
           defaults=recipe_defaults("blackjax.fullrank_vi")),  # fmt: skip
    Method("blackjax.pathfinder", PathfinderSettings, "backends.blackjax.vi:fit_pathfinder", "blackjax", REQUIRES),
)

# BlackJAX compiles a function while it is imported (adaptation.step_size), which initialises a JAX
# backend: a fork server that imported it could not fork safely, so it preloads what comes before
# and each cell imports BlackJAX itself.
RUNTIME = BackendRuntime(JAX, packages=("blackjax", "numpyro", "optax"), preload=("backends.jax_common.target", "optax"))
