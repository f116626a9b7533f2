"""Posterior draws as dicts of arrays, and their flattening into named scalar components."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def component_names(name: str, shape: Sequence[int]) -> list[str]:
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def flatten(draws: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> tuple[list[str], np.ndarray]:
    """(names, S x D matrix) with one column per scalar component, in latent order."""
    names: list[str] = []
    columns = []
    for name, shape in shapes.items():
        values = np.asarray(draws[name], dtype=np.float64)
        columns.append(values.reshape(values.shape[0], -1))
        names += component_names(name, shape)
    return names, np.concatenate(columns, axis=1)


def num_draws(draws: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(draws.values())))


def over_draws(draws: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Draws shaped for one batched evaluation of a spec written for a single draw: a latent of at
    most one axis (a scalar, a bias) gets an axis for the data points, so it broadcasts as
    (draws, 1, k) against (draws, points, k); matrices stay (draws, in, out) for a batched matmul."""
    return {
        k: np.asarray(v).reshape(len(v), 1, *shapes[k]) if len(shapes[k]) <= 1 else np.asarray(v)
        for k, v in draws.items()
    }


BATCH_DRAWS = 256  # draws per batched evaluation


def batched_where_it_agrees(batched: Callable, one_by_one: Callable, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """batched(draws) where it reproduces one_by_one on the first three draws (numpy's broadcasting
    does not depend on the number of draws past one), else one_by_one(draws): a spec written for one
    draw is evaluated for thousands at once where its shapes allow, and draw by draw where not."""
    if num_draws(draws) > 3:
        head = {k: np.asarray(v)[:3] for k, v in draws.items()}
        try:
            with np.errstate(all="ignore"):
                agrees = np.allclose(batched(head), one_by_one(head), rtol=1e-10, atol=0.0, equal_nan=True)
        except (ValueError, IndexError):  # shapes that do not broadcast: this spec is not batchable so
            agrees = False
        if agrees:
            total = num_draws(draws)
            with np.errstate(all="ignore"):  # in chunks: a network's (draws, points, hidden) stays small
                return np.concatenate(
                    [
                        batched({k: np.asarray(v)[start : start + BATCH_DRAWS] for k, v in draws.items()})
                        for start in range(0, total, BATCH_DRAWS)
                    ]
                )
    return one_by_one(draws)


def thin(draws: Mapping[str, np.ndarray], keep: int) -> dict[str, np.ndarray]:
    """At most `keep` draws, evenly spaced through the sample (first and last included)."""
    total = num_draws(draws)
    rows = np.linspace(0, total - 1, min(keep, total)).astype(int)
    return {k: np.asarray(v)[rows] for k, v in draws.items()}


@dataclass(frozen=True)
class Block:
    """Where one latent sits in the flat unconstrained vector every sampler and VI family uses."""

    name: str
    shape: tuple[int, ...]
    start: int
    stop: int
    prior: Any


def flat_layout(latents: Sequence[Any]) -> tuple[tuple[Block, ...], int]:
    """(blocks in the spec's latent order, total dimension): the same order as `flatten`."""
    blocks, start = [], 0
    for latent in latents:
        blocks.append(Block(latent.name, latent.shape, start, start + latent.size, latent.prior))
        start += latent.size
    return tuple(blocks), start
