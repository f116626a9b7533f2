"""Exact log evidence of the toy problems: the line every ELBO trace is bounded by.

Each closed form (or quadrature) is checked against a brute-force integral of the spec's own
numpy log joint, so the constant the figures draw is the one the harness's ELBO estimates."""

import numpy as np
import pytest
from scipy import integrate

import suites


def brute_force_log_evidence(problem, box_x, box_y=None, n=161):
    data = problem.make_data(0)
    names = [lat.name for lat in problem.latents]
    if box_y is None:
        grid = np.linspace(*box_x, 20 * n)
        logp = np.array([problem.log_joint({names[0]: np.array(v)}, data) for v in grid])
        top = logp.max()
        return top + np.log(integrate.trapezoid(np.exp(logp - top), grid))
    xs, ys = np.linspace(*box_x, n), np.linspace(*box_y, n)
    logp = np.array([[problem.log_joint({names[0]: np.array(x), names[1]: np.array(y)}, data) for y in ys] for x in xs])
    top = logp.max()
    return top + np.log(integrate.trapezoid(integrate.trapezoid(np.exp(logp - top), ys, axis=1), xs))


@pytest.mark.parametrize(
    ("name", "box_x", "box_y"),
    [
        ("coinflip", (1e-9, 1 - 1e-9), None),
        ("gaussian2d", (-16.0, 16.0), (-16.0, 16.0)),
        ("banana", (-16.0, 16.0), (-6.0, 30.0)),
        ("bimodal", (-20.0, 20.0), (-20.0, 20.0)),
    ],
)
def test_log_evidence_is_the_integral_of_the_spec(name, box_x, box_y):
    problem = suites.get_problem(name)
    reference = problem.reference(problem.make_data(0))
    assert reference.log_evidence is not None
    assert reference.log_evidence == pytest.approx(brute_force_log_evidence(problem, box_x, box_y), abs=0.02)


def test_gamma_quadrature_carries_its_log_evidence():
    problem = suites.get_problem("gamma")
    reference = problem.reference(problem.make_data(0))
    low, high = reference.provenance["grid"][:2]
    assert reference.log_evidence == pytest.approx(brute_force_log_evidence(problem, (low, high), n=200), abs=1e-3)
