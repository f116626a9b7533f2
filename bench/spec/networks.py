"""Multi-layer perceptrons declared through the problem interface.

The network shape is data (widths, activation, biases), so larger variants of a problem are a
parameter, not new code. The forward pass is written once against the neutral ops namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.spec.likelihoods import Likelihood
from bench.spec.priors import Prior
from bench.spec.problem import Latent


@dataclass(frozen=True)
class MLP:
    widths: tuple[int, ...]  # (inputs, hidden..., outputs)
    activation: str  # a name in the ops namespace: "tanh" or "relu"
    bias: bool = True

    @property
    def layers(self) -> int:
        return len(self.widths) - 1

    def latents(self, weight_prior: Prior, bias_prior: Prior | None = None) -> tuple[Latent, ...]:
        out: list[Latent] = []
        for i, (n_in, n_out) in enumerate(zip(self.widths[:-1], self.widths[1:]), start=1):
            out.append(Latent(f"w{i}", weight_prior, (n_in, n_out)))
            if self.bias:
                out.append(Latent(f"b{i}", bias_prior or weight_prior, (n_out,)))
        return tuple(out)

    def forward(self, ops: Any, values: Mapping[str, Any], x: Any) -> Any:
        """Pre-activation output of the last layer, with the output axis of width 1 dropped."""
        activation = getattr(ops, self.activation)
        h = x
        for i in range(1, self.layers + 1):
            h = ops.matmul(h, values[f"w{i}"])
            if self.bias:
                h = h + values[f"b{i}"]
            if i < self.layers:
                h = activation(h)
        return h[..., 0] if self.widths[-1] == 1 else h

    def likelihood(self, family: str, output: str, **fixed: float) -> Likelihood:
        """The observed family with the network's output as parameter `output` (e.g. "logits", "loc")
        and the other parameters fixed."""

        def params(ops: Any, values: Mapping[str, Any], x: Any) -> dict[str, Any]:
            return {output: self.forward(ops, values, x), **fixed}

        return Likelihood(family, params)

    @property
    def size(self) -> int:
        weights = sum(a * b for a, b in zip(self.widths[:-1], self.widths[1:]))
        return weights + (sum(self.widths[1:]) if self.bias else 0)


def grid_2d(x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """n x n points over a box, x varying slowest: reshape(n, n) gives [i_x, i_y]."""
    gx, gy = np.meshgrid(np.linspace(*x_range, n), np.linspace(*y_range, n), indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)
