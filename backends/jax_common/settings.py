"""The NUTS settings both JAX samplers take (`numpyro.nuts`, `blackjax.nuts`): one definition, so a
grid gives the two the same knobs. A plain dataclass: importing it loads no framework."""

from __future__ import annotations

from dataclasses import dataclass

from bench.spec.methods import require_positive


@dataclass(frozen=True)
class NUTSSettings:
    chains: int = 4
    warmup: int = 1000
    draws: int = 1000  # kept per chain, after thinning
    thin: int = 1
    target_accept: float = 0.8
    max_tree_depth: int = 10

    def __post_init__(self) -> None:
        require_positive(self, "chains", "warmup", "draws", "thin", "max_tree_depth")
        if not 0 < self.target_accept < 1:
            raise ValueError("target_accept must lie in (0, 1)")
