"""What every JAX fit does around its compiled loop: check the device, compile ahead of time, time
the warm repeats."""

from __future__ import annotations

from time import perf_counter

import jax

from bench.spec.errors import Unsupported
from bench.spec.fitting import time_repeats


def require_jax_device(device: str) -> None:
    """Fail as `unsupported` when JAX cannot see the requested device."""
    if device == "gpu":
        try:
            jax.devices("gpu")
        except Exception as exc:  # RuntimeError; JAX 0.10 without a CUDA plugin raises AssertionError
            raise Unsupported(
                f"JAX sees no GPU ({type(exc).__name__}: {exc}); pip install 'bench[gpu]' (or 'bench[cuda13]')"
            ) from None


# After the clock stops, the harness draws from the fit and maps draws to the constrained space:
# one call each, so XLA's backend optimisation costs more than it saves (on XLA:CPU it about halves
# those compiles). Never used for anything timed.
HARNESS_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def harness_jit(function, **jit_kwargs):
    """jax.jit for the harness's own untimed work (final and checkpoint draws, constraining)."""
    return jax.jit(function, compiler_options=HARNESS_COMPILER_OPTIONS, **jit_kwargs)


def compile_and_time(run, args: tuple, repeats: int):
    """jit(run) compiled ahead of time for args (compile_s apart), then `repeats` synchronised warm
    calls: the last output, compile_s, run_s and when the repeats ended (FitResult.repeats_end)."""
    start = perf_counter()
    compiled = jax.jit(run).lower(*args).compile()
    compile_s = perf_counter() - start
    output, run_s, repeats_end = time_repeats(lambda: compiled(*args), jax.block_until_ready, repeats)
    return output, compile_s, run_s, repeats_end
