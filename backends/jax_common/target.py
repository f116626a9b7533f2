"""The problem's NumPyro model as a JAX log density over one flat unconstrained vector.

BlackJAX (and the NUTS reference builder) work on R^D. NumPyro's translation already supplies
the unconstrained potential (log joint plus the transforms' log-Jacobians) and the map back to
constrained values; this module lays the latents out flat in the spec's latent order, so the
flat vector means the same thing here as in `bench.spec.draws.flatten` and the torch target.
"""

from __future__ import annotations

from functools import cached_property, partial

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.initialization import init_to_median
from numpyro.infer.util import constrain_fn, initialize_model, log_density, potential_energy

from backends.jax_common.compile import harness_jit, require_jax_device
from backends.jax_common.model import make_model, model_data
from bench.spec.draws import flat_layout
from bench.spec.fitting import FitContext
from bench.spec.problem import Dataset, Problem, Split


class JaxTarget:
    """log p(T(z), D) + log|J_T(z)| for flat z in R^D (NumPyro's potential, negated)."""

    def __init__(self, problem: Problem, split: Split | None, dtype) -> None:
        self.problem, self.dtype = problem, dtype
        self.model = make_model(problem)
        self.kwargs = model_data(problem, split, dtype)
        self.blocks, self.dim = flat_layout(problem.latents)
        # NumPyro's own potential and constraining map, built without running the model: running it
        # eagerly (initialize_model) dispatches its ops one by one, a compile each (262 and 16 s on
        # moons, before the fit's own compile). Traced inside the fit's jit they cost nothing extra.
        self._potential = partial(potential_energy, self.model, (), self.kwargs)
        self._postprocess = partial(constrain_fn, self.model, (), self.kwargs)

    @cached_property
    def median_point(self) -> jax.Array:
        """NumPyro's init_to_median start (Pathfinder's), found in one compiled call, not op by op."""

        def find(key):
            return initialize_model(
                key, self.model, model_kwargs=self.kwargs, init_strategy=init_to_median(), dynamic_args=False
            ).param_info.z

        return self.flatten(harness_jit(find)(jax.random.PRNGKey(0)))

    def unflatten(self, z: jax.Array) -> dict[str, jax.Array]:
        return {b.name: z[b.start : b.stop].reshape(b.shape) for b in self.blocks}

    def flatten(self, values: dict[str, jax.Array]) -> jax.Array:
        return jnp.concatenate([jnp.reshape(values[b.name], (-1,)) for b in self.blocks]).astype(self.dtype)

    def flatten_batch(self, values: dict[str, jax.Array]) -> jax.Array:
        """Flat points from per-site arrays with one leading batch axis (chains): (B, D)."""
        first = values[self.blocks[0].name]
        lead = first.shape[: first.ndim - len(self.blocks[0].shape)]
        return jnp.concatenate([jnp.reshape(values[b.name], (*lead, -1)) for b in self.blocks], axis=-1)

    def logdensity(self, z: jax.Array) -> jax.Array:
        """Unconstrained log density of one flat point (D,)."""
        return -self._potential(self.unflatten(z))

    def constrain(self, z: jax.Array) -> dict[str, jax.Array]:
        values = self._postprocess(self.unflatten(z))
        return {b.name: values[b.name] for b in self.blocks}

    def log_joint_constrained(self, values: dict[str, jax.Array]) -> jax.Array:
        """The model's log joint at constrained values, no Jacobian (for the agreement check)."""
        return log_density(self.model, (), self.kwargs, values)[0]

    def log_abs_det_jacobian(self, z: jax.Array) -> jax.Array:
        """log|dT/dz| at one point: the potential's Jacobian term, isolated by difference."""
        return self.logdensity(z) - self.log_joint_constrained(self.constrain(z))

    def uniform_points(self, key: jax.Array, num: int, radius: float = 2.0) -> jax.Array:
        """Stan's (and NumPyro's init_to_uniform) dispersed starts: U(-radius, radius) unconstrained."""
        return jax.random.uniform(key, (num, self.dim), self.dtype, -radius, radius)

    @cached_property
    def _constrain_batch(self):
        return harness_jit(jax.vmap(self.constrain))  # one compiled map per target, not one per call

    def draws_to_numpy(self, z: jax.Array) -> dict[str, np.ndarray]:
        """Constrained float64 draws from flat unconstrained points (S, D)."""
        values = self._constrain_batch(z)
        return {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}

    def log_q_constrained(self, z: jax.Array, log_q_unconstrained: jax.Array) -> np.ndarray:
        """log q of the constrained draws: log q(z) - log|J_T(z)|, so the common ELBO applies."""
        jacobian = harness_jit(jax.vmap(self.log_abs_det_jacobian))(z)
        return np.asarray(log_q_unconstrained, dtype=np.float64) - np.asarray(jacobian, dtype=np.float64)


def setup_fit(problem: Problem, data: Dataset, context: FitContext) -> tuple[JaxTarget, jax.Array, jax.Array]:
    """A fit's device check, its flat target on the training split and its two keys (run, starting points)."""
    require_jax_device(context.device)
    dtype = jnp.float64 if context.dtype == "float64" else jnp.float32
    target = JaxTarget(problem, data.train, dtype)
    run_key, start_key = jax.random.split(jax.random.PRNGKey(context.seed))
    return target, run_key, start_key
