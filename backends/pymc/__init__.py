"""PyMC backend: ADVI, full-rank ADVI, minibatch ADVI and NUTS on the problem's native PyMC model.

PyMC loads only inside a cell's worker. `compile_mode` (C default, or NUMBA) is a setting and is
recorded with every run. GPU cells are `unsupported`: PyMC's JAX mode fails for ADVI
(pymc-devs/pymc issues 8359 and 7104), and its C and Numba modes run on the CPU only.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.pymc.runtime import PYTENSOR
from bench.spec.methods import Method, recipe_defaults, require_positive, tuned_defaults
from bench.spec.protocols import SCHEDULES
from bench.spec.problem import Problem
from bench.spec.runtime import BackendRuntime

REQUIRES = ("pymc", "pytensor")
COMPILE_MODES = ("C", "NUMBA")
# PyMC's fastest formulation here, which the tuned protocol runs (README, "PyMC's BLAS"; measured with
# benchmarks/pymc_compile_modes.py and the suite's matrix-heavy cells)
TUNED_COMPILE_MODE = "C"
OPTIMIZERS = ("adam", "adagrad_window")
GPU_REASON = (
    "PyMC has no working GPU path for these methods: its JAX mode fails for ADVI (pymc-devs/pymc issues 8359 "
    "and 7104) and the C and Numba modes run on the CPU"
)


def _check_mode(mode: str) -> None:
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")


@dataclass(frozen=True)
class ADVISettings:
    steps: int = 10_000
    learning_rate: float = 0.01
    optimizer: str = "adam"  # or "adagrad_window", PyMC's own default
    particles: int = 1  # draws per gradient (PyMC's obj_n_mc)
    compile_mode: str = "C"
    schedule: str = "constant"  # or "step_decay" (bench.spec.protocols.STEP_DECAY, the tuned protocol's)
    # starting sd of q in the unconstrained space; 0: PyMC's own start (mean-field softplus(0) = 0.69,
    # full-rank a unit Cholesky factor)
    init_scale: float = 0.0
    protocol: str = "recipe"  # how these settings were chosen (bench.spec.protocols); "tuned" runs the search

    def __post_init__(self) -> None:
        require_positive(self, "steps", "learning_rate", "particles")
        _check_mode(self.compile_mode)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.init_scale < 0:
            raise ValueError("init_scale must be >= 0 (0: PyMC's own start)")


@dataclass(frozen=True)
class MinibatchSettings(ADVISettings):
    batch_size: int = 50  # the seed's pm.Minibatch size

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "batch_size")


@dataclass(frozen=True)
class PyMCNUTSSettings:
    chains: int = 4
    warmup: int = 1000  # PyMC's tune
    draws: int = 1000  # kept per chain
    target_accept: float = 0.8
    max_tree_depth: int = 10
    compile_mode: str = "C"

    def __post_init__(self) -> None:
        require_positive(self, "chains", "warmup", "draws", "max_tree_depth")
        _check_mode(self.compile_mode)
        if not 0 < self.target_accept < 1:
            raise ValueError("target_accept must lie in (0, 1)")


def library_defaults(problem: Problem, variant: str) -> dict:
    """`pm.fit`'s own: n=10000 steps (pymc/variational/inference.py, `fit`), the objective's default
    optimiser `adagrad_window(learning_rate=0.001, n_win=10)` and one draw per gradient
    (`obj_n_mc=None`; pymc/variational/opvi.py, `step_function`, and pymc/variational/updates.py;
    https://www.pymc.io/projects/docs/en/stable/api/generated/pymc.fit.html), PyMC's starting q."""
    return {
        "steps": 10_000,
        "learning_rate": 0.001,
        "optimizer": "adagrad_window",
        "particles": 1,
        "init_scale": 0.0,
        "schedule": "constant",
    }


def on_cpu_only(problem: Problem, device: str) -> str | None:
    return GPU_REASON if device == "gpu" else None


def minibatch_applies(problem: Problem, device: str) -> str | None:
    if problem.likelihood is None:
        return f"pymc.advi_minibatch needs observed data; {problem.name} is a density without a likelihood"
    return on_cpu_only(problem, device)


METHODS = (
    Method(
        "pymc.advi",
        ADVISettings,
        "backends.pymc.fit:fit_advi",
        "pymc",
        REQUIRES,
        defaults=recipe_defaults("pymc.advi"),
        unsupported=on_cpu_only,
        library_defaults=library_defaults,
        tuned=tuned_defaults(compile_mode=TUNED_COMPILE_MODE),
    ),
    Method(
        "pymc.fullrank_advi",
        ADVISettings,
        "backends.pymc.fit:fit_fullrank_advi",
        "pymc",
        REQUIRES,
        defaults=recipe_defaults("pymc.fullrank_advi"),
        unsupported=on_cpu_only,
        library_defaults=library_defaults,
        tuned=tuned_defaults(compile_mode=TUNED_COMPILE_MODE),
    ),
    Method(
        "pymc.advi_minibatch",
        MinibatchSettings,
        "backends.pymc.fit:fit_advi_minibatch",
        "pymc",
        REQUIRES,
        defaults=recipe_defaults("pymc.advi_minibatch"),
        unsupported=minibatch_applies,
        library_defaults=library_defaults,
        tuned=tuned_defaults(compile_mode=TUNED_COMPILE_MODE),
    ),
    Method(
        "pymc.nuts",
        PyMCNUTSSettings,
        "backends.pymc.fit:fit_nuts",
        "pymc",
        REQUIRES,
        kind="mcmc",
        unsupported=on_cpu_only,
    ),
)

RUNTIME = BackendRuntime(PYTENSOR, packages=("pymc",))
