"""ArviZ, imported one way everywhere: with its optional Numba kernels switched off.

With numba installed (PyMC brings it), ArviZ 0.23 switches to Numba kernels, and its mcse of
the sd calls float() on a 1-element array, which numpy 2 refuses. Diagnostics must not depend on
whether an unrelated backend happens to be installed, so every caller gets the NumPy path.
"""

from __future__ import annotations


def arviz():
    import arviz as az

    if az.Numba.numba_flag:
        az.Numba.disable_numba()
    return az
