"""Time to accuracy: the checkpoint schedule, the segmented JAX loop, MCMC prefixes, and that every
VI backend's checkpoints are real snapshots of its fit (the last one is the fitted q itself)."""

import numpy as np
import pytest

from bench.scoring import checkpoints
from bench import scoring
from bench.spec.checkpoints import mcmc_prefixes, schedule, vi_checkpoints
from tests.conftest import HAS_BLACKJAX, HAS_NUMPYRO, HAS_PYMC, HAS_TORCH, fit_method, requires_numpyro


def test_schedule_is_log_spaced_and_ends_at_the_last_step():
    steps = schedule(10_000)
    assert steps[-1] == 10_000 and steps[0] == round(10_000 / 1024) and steps == sorted(set(steps))
    ideal = np.geomspace(steps[0], steps[-1], len(steps))
    assert np.allclose(np.log(steps), np.log(ideal), atol=0.06)  # evenly spaced on a log axis, up to rounding
    assert schedule(5) == [1, 2, 3, 4, 5] and schedule(1) == [1] and schedule(0) == []


@requires_numpyro
def test_segmented_while_loop_is_the_plain_loop_with_snapshots_and_stops_early():
    import jax
    import jax.numpy as jnp

    from backends.jax_common.segments import run_in_segments, snapshot_at

    def advance(carry, i):
        x, out = carry
        x = 0.9 * x + jnp.sin(i.astype(x.dtype))
        return x, out.at[i].set(x)

    steps, ends = 50, [3, 10, 50]
    start = (jnp.float32(1.0), jnp.zeros(steps, jnp.float32))
    (x, out), taken, snaps, taken_at = jax.jit(lambda c: run_in_segments(advance, c, ends, lambda c: c[0]))(start)

    def plain(x, i):
        x = 0.9 * x + jnp.sin(i.astype(x.dtype))
        return x, x

    x_ref, out_ref = jax.lax.scan(plain, jnp.float32(1.0), jnp.arange(steps))
    np.testing.assert_allclose(out, out_ref, rtol=1e-6)
    assert float(x) == pytest.approx(float(x_ref)) and int(taken) == steps
    assert list(np.asarray(taken_at)) == ends
    assert [float(snapshot_at(snaps, k)) for k in range(3)] == pytest.approx([float(out_ref[e - 1]) for e in ends])

    stop = jax.jit(lambda c: run_in_segments(advance, c, ends, lambda c: c[0], keep_going=lambda c: c[1][6] == 0))
    (_, out), taken, _, taken_at = stop(start)
    assert int(taken) == 7 and list(np.asarray(taken_at)) == [3, 7, 7] and np.all(np.asarray(out)[7:] == 0)


@requires_numpyro
def test_scan_with_snapshots_is_the_plain_scan_with_snapshots():
    import jax
    import jax.numpy as jnp

    from backends.jax_common.segments import checkpoint_steps, scan_with_snapshots, segment_length

    assert (
        segment_length(5000) == 20
        and segment_length(10_000) == 40
        and segment_length(300) == 2
        and segment_length(997) == 997
    )  # a prime: one segment
    keep = checkpoint_steps(256)
    assert keep[:3] == [1, 2, 3] and keep[-1] == 256  # dense at the start where segments allow
    keep = checkpoint_steps(3000)
    assert keep[0] == 12 and keep[-1] == 3000 and all(k % 12 == 0 for k in keep) and len(keep) >= 20

    def step(x, k):
        x = 0.9 * x + jax.random.normal(k)
        return x, x

    keys = jax.random.split(jax.random.PRNGKey(0), 3000)
    x, outs, snaps = jax.jit(lambda x: scan_with_snapshots(step, x, 3000, keep, lambda c: c, xs=keys))(jnp.float32(1))
    x_ref, outs_ref = jax.lax.scan(step, jnp.float32(1), keys)
    np.testing.assert_array_equal(outs, outs_ref)
    assert float(x) == float(x_ref)
    np.testing.assert_array_equal(snaps, np.asarray(outs_ref)[np.array(keep) - 1])
    with pytest.raises(ValueError, match="not multiples of the segment length 12"):
        scan_with_snapshots(step, jnp.float32(1), 3000, [4], lambda c: c, xs=keys)


def test_vi_checkpoints_drop_repeats_after_an_early_stop():
    made = vi_checkpoints([3, 7, 7, 50], taken=7, sampler_at=lambda k: lambda n: {"k": np.full(n, k)})
    assert [c.step for c in made] == [3, 7] and [c.work for c in made] == [3 / 7, 1.0]
    assert made[1].sample(2)["k"].tolist() == [1, 1]  # the first snapshot taken at step 7


def test_mcmc_prefixes_take_the_first_draws_of_every_chain_and_weight_by_work():
    chains, kept, warmup = 2, 8, 4
    values = np.concatenate([np.arange(kept), 100 + np.arange(kept)]).astype(float)  # chain-major
    made = mcmc_prefixes({"x": values}, chains, warmup, thin=1)
    assert [c.step for c in made] == [warmup + n for n in schedule(kept)]
    first = made[0]
    assert sorted(first.sample(100)["x"].tolist()) == [0.0, 100.0]
    assert first.work == pytest.approx((warmup + 1) / (warmup + kept))
    # warm-up iterations ten times as costly: the first prefix comes late in the run
    work = np.ones((chains, warmup + kept))
    work[:, :warmup] = 10
    assert mcmc_prefixes({"x": values}, chains, warmup, 1, work)[0].work == pytest.approx(41 / 48)
    # chains one after another: the first draw of both exists only once the second chain has one
    sequential = mcmc_prefixes({"x": values}, chains, warmup, 1, sequential=True)
    assert sequential[0].work == pytest.approx((12 + 5) / 24) and sequential[-1].work == 1.0


VI_METHODS = [
    pytest.param("numpyro.svi", "auto_normal", marks=pytest.mark.skipif(not HAS_NUMPYRO, reason="numpyro extra")),
    pytest.param("blackjax.meanfield_vi", "", marks=pytest.mark.skipif(not HAS_BLACKJAX, reason="blackjax extra")),
    pytest.param("torch.vi", "", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch extra")),
    pytest.param("pymc.advi", "", marks=pytest.mark.skipif(not HAS_PYMC, reason="pymc extra")),
]


@pytest.mark.parametrize("method, variant", VI_METHODS)
def test_vi_checkpoints_track_the_fit_and_end_at_the_fitted_q(method, variant):
    draws = checkpoints.DENSITY_CHECKPOINT_DRAWS
    problem, data, fit = fit_method(method, "coinflip", variant, {"steps": "400"}, draws=draws)
    steps = [c.step for c in fit.checkpoints]
    assert steps[-1] == 400 and steps[0] <= 4 and len(steps) >= 12 and steps == sorted(set(steps))
    last = fit.checkpoints[-1].sample(draws)
    np.testing.assert_allclose(last["f"], fit.draws["f"], rtol=1e-6)  # the last snapshot is the final q
    reference = problem.reference(data)
    arrays = checkpoints.checkpoint_arrays(problem, data, fit.checkpoints, float(np.median(fit.run_s)), reference, 0)
    scored = scoring.parameter_metrics(problem, fit, reference, 0)[0]["std_mean_err_max"]
    quality = arrays["checkpoint_quality"]
    assert quality[-1] == pytest.approx(scored, rel=1e-6)
    assert quality[-1] < quality[0] - 0.1  # q moves from its start towards the posterior mean
    assert arrays["checkpoint_run_s"][-1] == pytest.approx(np.median(fit.run_s))
    assert np.all(np.diff(arrays["checkpoint_run_s"]) > 0)
