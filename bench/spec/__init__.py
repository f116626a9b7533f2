"""The contract backends and suites build on: problems, priors, likelihoods, ops, networks,
references, draws, methods, fit context and result, checkpoints, errors. Imports nothing above it."""
