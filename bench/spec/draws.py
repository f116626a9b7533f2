"""Posterior draws as dicts of arrays, and their flattening into named scalar components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def flatten_point(values: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> np.ndarray:
    return np.concatenate([np.asarray(values[n], dtype=np.float64).reshape(-1) for n in shapes])


def num_draws(draws: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(draws.values())))


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
