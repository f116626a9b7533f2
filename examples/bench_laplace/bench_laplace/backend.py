"""The plugin's backend record: light (no heavy import), like a built-in backend package's __init__."""

from __future__ import annotations

from dataclasses import dataclass

from bench.spec.methods import Method, require_positive


@dataclass(frozen=True)
class LaplaceSettings:
    max_iterations: int = 500  # L-BFGS iterations to the mode
    step: float = 1e-4  # finite-difference step of the Hessian, in unconstrained units

    def __post_init__(self) -> None:
        require_positive(self, "max_iterations", "step")


METHODS = (
    Method(
        name="laplace.map",
        settings=LaplaceSettings,
        fit="bench_laplace.fit:fit",
        extra="laplace",
        requires=("scipy",),
        kind="vi",
    ),
)
