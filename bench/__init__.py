"""bench: one harness to benchmark Bayesian inference across backends."""

__version__ = "0.1.0"
