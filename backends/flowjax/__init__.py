"""FlowJAX backend: `flowjax.flow_vi`, normalising-flow VI on the problem's flat unconstrained JAX
log density (`backends.jax_common.target`), the whole optimisation one compiled loop (the framework
loads lazily)."""

from __future__ import annotations

from dataclasses import dataclass

from backends.jax_common.runtime import JAX
from bench.spec.methods import Method, recipe_defaults, require_positive
from bench.spec.runtime import BackendRuntime

FLOWS = ("maf", "bnaf")


@dataclass(frozen=True)
class FlowVISettings:
    steps: int = 5000  # the problem's recipe, as for every VI method
    learning_rate: float = 0.01
    particles: int = 1  # draws per step of the ELBO gradient
    flow: str = "maf"  # masked autoregressive flow (affine transformer) or block neural autoregressive flow
    flow_depth: int = 4  # flow layers
    flow_hidden: int = (
        32  # maf: hidden units of each layer's conditioner (one hidden layer); bnaf: block size per dimension
    )

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles", "flow_depth", "flow_hidden")
        if self.flow not in FLOWS:
            raise ValueError(f"flow must be one of {', '.join(FLOWS)}, got {self.flow!r}")


METHODS = (
    Method(
        name="flowjax.flow_vi",
        settings=FlowVISettings,
        fit="backends.flowjax.vi:fit",
        extra="flowjax",
        requires=("jax", "flowjax", "equinox", "numpyro", "optax"),
        defaults=recipe_defaults("flowjax.flow_vi"),
    ),
)

# JAX's runtime record, like NumPyro's and BlackJAX's; the versions recorded are FlowJAX's own stack.
RUNTIME = BackendRuntime(JAX, packages=("flowjax", "equinox", "paramax", "numpyro", "optax"))
