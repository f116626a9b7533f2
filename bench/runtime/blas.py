"""PyTensor's BLAS: link the machine's OpenBLAS where it has one.

From a pip install PyTensor's C backend links no BLAS (`pytensor.config.blas__ldflags` is empty and
it warns that BLAS operations "will be severely degraded"): its matrix products then run in its own
C loops. Measured here (README, "PyMC's BLAS"): on diamonds (5,000 x 25 design) an ADVI step took
3.9 ms unlinked and 2.1 ms with Debian's OpenBLAS (`apt-get install libopenblas-dev`), and Numba
mode 5.2 ms after a first call of about three minutes; so PyMC's cells run in C mode with the
system OpenBLAS linked whenever the machine has one. numpy's bundled OpenBLAS cannot serve: its
symbols are renamed (`scipy_` prefix, 64-bit integers), which PyTensor's CBLAS calls do not find.
A user's own `blas__ldflags` in PYTENSOR_FLAGS is left as it is. The flags in force are recorded
in every PyMC record (`info.blas__ldflags`, and `info.threads.pytensor`).
"""

from __future__ import annotations

import ctypes.util
from functools import cache


@cache
def system_openblas() -> str | None:
    """The OpenBLAS the dynamic linker finds (e.g. libopenblas.so.0 from Debian's libopenblas0), or None."""
    return ctypes.util.find_library("openblas")


def pytensor_flags(existing: str = "") -> list[str]:
    """PYTENSOR_FLAGS entries that link the system OpenBLAS, unless the caller names a BLAS already."""
    if "blas__ldflags" in existing or system_openblas() is None:
        return []
    return ["blas__ldflags=-lopenblas"]
