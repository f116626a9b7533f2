"""A neutral ops namespace: likelihoods and potentials are written once against it.

Each backend gets the same function names bound to its own array library, so a problem's
parameter function runs unchanged on numpy (the spec's reference evaluation), jax.numpy,
torch or pytensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy import special

Fn = Callable[..., Any]


@dataclass(frozen=True)
class Ops:
    """The vocabulary a problem may use; every field is a plain function."""

    name: str
    asarray: Fn
    matmul: Fn
    tanh: Fn
    sigmoid: Fn
    relu: Fn
    exp: Fn
    log: Fn
    log1p: Fn
    logaddexp: Fn
    softplus: Fn
    sqrt: Fn
    square: Fn
    sin: Fn
    cos: Fn
    abs: Fn
    sum: Fn
    mean: Fn
    where: Fn


# The functions numpy, jax.numpy and torch all name alike, bound by name; the rest differ per library.
COMMON = (
    "matmul",
    "tanh",
    "exp",
    "log",
    "log1p",
    "logaddexp",
    "sqrt",
    "square",
    "sin",
    "cos",
    "abs",
    "sum",
    "mean",
    "where",
)


def from_module(name: str, module: Any, **specific: Fn) -> Ops:
    """An Ops of module's functions under the COMMON names, `specific` for the others (and overrides)."""
    return Ops(name=name, **{f: getattr(module, f) for f in COMMON if f not in specific}, **specific)


NUMPY = from_module(
    "numpy",
    np,
    asarray=lambda x: np.asarray(x, dtype=np.float64),
    sigmoid=special.expit,
    relu=lambda x: np.maximum(x, 0.0),
    softplus=lambda x: np.logaddexp(0.0, x),
)


def jax_ops() -> Ops:
    """The namespace bound to jax.numpy (imported lazily: jax is an optional extra)."""
    import jax
    import jax.numpy as jnp

    return from_module(
        "jax", jnp, asarray=jnp.asarray, sigmoid=jax.nn.sigmoid, relu=jax.nn.relu, softplus=jax.nn.softplus
    )


def torch_ops() -> Ops:
    """The namespace bound to torch (imported lazily: torch is an optional extra)."""
    import torch
    import torch.nn.functional as F

    return from_module(
        "torch", torch, asarray=torch.as_tensor, sigmoid=torch.sigmoid, relu=torch.relu, softplus=F.softplus
    )


def _stable_logaddexp(a, b):
    import pytensor.tensor as pt

    # each branch is exact and stable, and so is its gradient (a tie splits it evenly)
    return pt.switch(a > b, a + pt.softplus(b - a), b + pt.softplus(a - b))


def pytensor_ops() -> Ops:
    """The namespace bound to pytensor.tensor (imported lazily: pymc is an optional extra)."""
    import pytensor.tensor as pt

    return from_module(
        "pytensor",
        pt,
        asarray=pt.as_tensor_variable,
        matmul=pt.dot,
        sigmoid=pt.sigmoid,
        relu=lambda x: pt.maximum(x, 0.0),
        logaddexp=_stable_logaddexp,  # pt.logaddexp is log(exp(a) + exp(b)): -inf once both underflow
        softplus=pt.softplus,
        square=pt.sqr,
        where=pt.switch,
    )
