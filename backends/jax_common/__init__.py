"""JAX pieces shared by the NumPyro and BlackJAX backends: the problem's NumPyro model, the flat
unconstrained target, the segmented loops with snapshots, compile-and-time, the sampler result and
the NUTS settings. Its modules import jax and are imported only inside a cell's worker, except
`settings` (a plain dataclass the registries read)."""
