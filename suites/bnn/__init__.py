"""Bayesian neural networks, scored in function space (weights are not identifiable)."""
