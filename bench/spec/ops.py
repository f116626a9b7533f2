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


NUMPY = Ops(
    name="numpy",
    asarray=lambda x: np.asarray(x, dtype=np.float64),
    matmul=np.matmul,
    tanh=np.tanh,
    sigmoid=special.expit,
    relu=lambda x: np.maximum(x, 0.0),
    exp=np.exp,
    log=np.log,
    log1p=np.log1p,
    logaddexp=np.logaddexp,
    softplus=lambda x: np.logaddexp(0.0, x),
    sqrt=np.sqrt,
    square=np.square,
    sin=np.sin,
    cos=np.cos,
    abs=np.abs,
    sum=np.sum,
    mean=np.mean,
    where=np.where,
)


def jax_ops() -> Ops:
    """The namespace bound to jax.numpy (imported lazily: jax is an optional extra)."""
    import jax
    import jax.numpy as jnp

    return Ops(
        name="jax",
        asarray=jnp.asarray,
        matmul=jnp.matmul,
        tanh=jnp.tanh,
        sigmoid=jax.nn.sigmoid,
        relu=jax.nn.relu,
        exp=jnp.exp,
        log=jnp.log,
        log1p=jnp.log1p,
        logaddexp=jnp.logaddexp,
        softplus=jax.nn.softplus,
        sqrt=jnp.sqrt,
        square=jnp.square,
        sin=jnp.sin,
        cos=jnp.cos,
        abs=jnp.abs,
        sum=jnp.sum,
        mean=jnp.mean,
        where=jnp.where,
    )


def torch_ops() -> Ops:
    """The namespace bound to torch (imported lazily: torch is an optional extra)."""
    import torch
    import torch.nn.functional as F

    return Ops(
        name="torch",
        asarray=torch.as_tensor,
        matmul=torch.matmul,
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        relu=torch.relu,
        exp=torch.exp,
        log=torch.log,
        log1p=torch.log1p,
        logaddexp=torch.logaddexp,
        softplus=F.softplus,
        sqrt=torch.sqrt,
        square=torch.square,
        sin=torch.sin,
        cos=torch.cos,
        abs=torch.abs,
        sum=torch.sum,
        mean=torch.mean,
        where=torch.where,
    )


def _stable_logaddexp(a, b):
    import pytensor.tensor as pt

    # each branch is exact and stable, and so is its gradient (a tie splits it evenly)
    return pt.switch(a > b, a + pt.softplus(b - a), b + pt.softplus(a - b))


def pytensor_ops() -> Ops:
    """The namespace bound to pytensor.tensor (imported lazily: pymc is an optional extra)."""
    import pytensor.tensor as pt

    return Ops(
        name="pytensor",
        asarray=pt.as_tensor_variable,
        matmul=pt.dot,
        tanh=pt.tanh,
        sigmoid=pt.sigmoid,
        relu=lambda x: pt.maximum(x, 0.0),
        exp=pt.exp,
        log=pt.log,
        log1p=pt.log1p,
        logaddexp=_stable_logaddexp,  # pt.logaddexp is log(exp(a) + exp(b)): -inf once both underflow
        softplus=pt.softplus,
        sqrt=pt.sqrt,
        square=pt.sqr,
        sin=pt.sin,
        cos=pt.cos,
        abs=pt.abs,
        sum=pt.sum,
        mean=pt.mean,
        where=pt.switch,
    )
