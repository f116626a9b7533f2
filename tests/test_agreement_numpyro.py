"""For every problem, NumPyro's native log joint equals the spec's numpy one (float64, rel 1e-6)."""

import numpy as np
import pytest

import suites
from tests.conftest import requires_numpyro

pytestmark = requires_numpyro
PROBLEMS = suites.problem_names()


@pytest.mark.parametrize("name", PROBLEMS)
def test_numpyro_log_joint_agrees_with_spec(name):
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import log_density

    from backends.jax_common.model import make_model, model_data

    problem = suites.get_problem(name)
    data = problem.make_data(0)
    rng = np.random.default_rng(42)
    with jax.enable_x64(True):
        model = make_model(problem)
        kwargs = model_data(problem, data.train, jnp.float64)
        for _ in range(5):
            point = problem.random_point(rng)
            native, _ = log_density(model, (), kwargs, {k: jnp.asarray(v) for k, v in point.items()})
            expected = problem.log_joint(point, data)
            assert float(native) == pytest.approx(expected, rel=1e-6, abs=1e-9)
