"""The contract backends and suites build on: problems, priors, likelihoods, ops, networks,
references, draws, methods, fit context and result, checkpoints, errors, the runtime records a
backend declares for its framework (`runtime`) and parametric problem families (`family`). Imports
nothing above it."""
