"""The torch translation agrees with the spec: constrained log joint, Jacobians, batching, gradients."""

import numpy as np
import pytest
from scipy import special

import suites
from tests.conftest import requires_torch

pytestmark = requires_torch
PROBLEMS = suites.problem_names()


def target_for(name):
    import torch

    from backends.torch.target import TorchTarget

    problem = suites.get_problem(name)
    data = problem.make_data(0)
    return problem, data, TorchTarget(problem, data.train, torch.device("cpu"), torch.float64)


def numpy_constrain(problem, z):
    """The transforms and log-Jacobians, written again in numpy for an independent check."""
    values, log_jac, start = {}, 0.0, 0
    for latent in problem.latents:
        block = z[start : start + latent.size]
        start += latent.size
        support = latent.prior.support
        if support.kind == "real":
            x = block
        elif support.kind == "positive":
            x, log_jac = np.exp(block), log_jac + block.sum()
        else:
            width = support.high - support.low
            x = support.low + width * special.expit(block)
            log_jac += np.sum(np.log(width) + np.log(special.expit(block)) + np.log(special.expit(-block)))
        values[latent.name] = x.reshape(latent.shape)
    return values, log_jac


@pytest.mark.parametrize("name", PROBLEMS)
def test_torch_log_joint_agrees_with_spec(name):
    import torch

    problem, data, target = target_for(name)
    rng = np.random.default_rng(7)
    for _ in range(4):
        point = problem.random_point(rng)
        native = target.log_joint_constrained({k: torch.as_tensor(v) for k, v in point.items()})
        assert float(native) == pytest.approx(problem.log_joint(point, data), rel=1e-6, abs=1e-9)
        z = rng.normal(0, 1.0, size=target.dim)
        values, log_jac = numpy_constrain(problem, z)
        expected = problem.log_joint(values, data) + log_jac
        assert float(target.log_joint(torch.as_tensor(z))) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["coinflip", "moons"])
def test_batched_log_joint_equals_the_loop(name):
    import torch

    _, _, target = target_for(name)
    z = torch.randn(5, target.dim, dtype=torch.float64)
    looped = torch.stack([target.log_joint(row) for row in z])
    torch.testing.assert_close(target.batched()(z), looped, rtol=1e-12, atol=1e-12)


def test_gradient_matches_finite_differences():
    import torch

    _, _, target = target_for("moons")
    z = (0.3 * torch.randn(target.dim, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(target.log_joint, (z,), eps=1e-6, atol=1e-5, rtol=1e-4)
