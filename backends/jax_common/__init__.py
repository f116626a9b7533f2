"""JAX pieces shared by the NumPyro and BlackJAX backends: the problem's NumPyro model, the flat
unconstrained target, the segmented loops with snapshots, compile-and-time and the sampler result.
Imported only inside a cell's worker (it imports jax)."""
