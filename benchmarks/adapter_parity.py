"""Each adapter's steady-state cost beside the fastest formulation written directly against its library.

For every VI method on coinflip and moons, time per step of the adapter (its own timed loop, the
closure it hands `time_repeats`, or for PyMC one timed fit) beside the same algorithm written
straight against the library, with the same particles and dtype:

- numpyro.svi: `svi.update` in one jitted `lax.scan` (benchmarks/svi_overhead.py);
- pymc.advi, pymc.advi_minibatch: `pm.fit` with the same optimiser, timed from its first step;
- torch.vi: a hand-written eager loop (autograd, torch.optim.Adam) and a torch.compile'd
  functional step (torch.func.grad_and_value + Adam), against the adapter eager and compiled;
- blackjax.meanfield_vi: a hand-written `lax.scan` of its `step`.

The samplers the same way per gradient evaluation: numpyro.nuts against `MCMC(NUTS)` (warm-up
then run, the whole under one ahead-of-time `jax.jit`: called plainly, numpyro 0.22's MCMC
recompiles its loop on every call, so only a jitted call is steady state), blackjax.nuts against
`window_adaptation` + `blackjax.util.run_inference_algorithm`, torch.hmc against a plain eager
leapfrog loop. Repeats are interleaved in one process; the median is reported with the spread
(max/min) of the repeats. An adapter's ratio is adapter / its paired direct formulation (torch.vi:
eager with the eager loop, compile=true with the compiled step), else / the best direct one;
target <= 1.2.

    python benchmarks/adapter_parity.py [--steps 1000] [--iterations 100] [--repeats 5] [--threads 1]
        [--problems coinflip,moons] [--methods ...] [--no-compile] [--clock wall|cpu]

--clock cpu times with this process's CPU time instead of the wall clock: for development runs on
a loaded (or niced) machine, where waiting for a core would otherwise be timed.
--threads applies the harness's thread policy (bench/threads.py) before any framework loads;
--threads 0 leaves every library at its own default (what cells ran with before the policy).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from contextlib import contextmanager
from time import perf_counter, process_time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="VI steps per timed run")
    parser.add_argument("--iterations", type=int, default=100, help="MCMC warm-up and kept iterations per chain")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed repeats (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="thread policy (bench/threads.py); 0: library defaults")
    parser.add_argument("--problems", default="coinflip,moons")
    parser.add_argument("--methods", default="", help="comma-separated subset (default: all)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter (the harness's clock); cpu: this process's CPU time, for development runs on a loaded machine",
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows (8 s compile each)")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads > 0:  # before any framework import, as a cell's worker does
    from bench.runtime.threads import environment

    os.environ.update(environment(ARGS.threads, os.environ.get("XLA_FLAGS")))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import backends  # noqa: E402
import suites  # noqa: E402
from bench.spec.fitting import FitContext  # noqa: E402
from bench.spec.methods import resolve_settings  # noqa: E402

DTYPE = "float32"
CLOCK = {"wall": perf_counter, "cpu": process_time}


def clock() -> float:
    """The benchmark's clock (--clock); PyMC's adapter reads the same one (patched into its module)."""
    return CLOCK[ARGS.clock if ARGS is not None else "wall"]()


# -- the adapter's own timed loop ------------------------------------------------------------------
@contextmanager
def captured(module):
    """Runs the adapter's fit once; keeps the (call, sync) it times, to be called again at will.
    The JAX fits time through backends.jax_common.compile.compile_and_time, the others directly."""
    from backends.jax_common import compile as jax_compile

    held = {}
    holders = [m for m in (module, jax_compile) if hasattr(m, "time_repeats")]
    originals = [m.time_repeats for m in holders]

    def capture(call, sync, repeats):
        held["run"] = lambda: sync(call())
        return originals[0](call, sync, 1)

    for m in holders:
        m.time_repeats = capture
    try:
        yield held
    finally:
        for m, original in zip(holders, originals):
            m.time_repeats = original


def adapter_loop(method_name: str, problem, settings, module_name: str):
    """(a zero-argument timed run, its FitResult) for the adapter's steady-state loop."""
    module = importlib.import_module(module_name)
    method = backends.get_method(method_name)
    with captured(module) as held:
        fit = method.load_fit()(problem, problem.make_data(0), settings, FitContext(0, "cpu", DTYPE, 1, 200))
    return held["run"], fit


def pymc_adapter(method_name: str, problem, settings):
    """PyMC's adapter times its own Python loop; one repeat per call, compile excluded by it."""
    fit = backends.get_method(method_name).load_fit()
    sys.modules["backends.pymc.fit"].perf_counter = clock  # its timed loop reads our clock

    def seconds():
        return fit(problem, problem.make_data(0), settings, FitContext(0, "cpu", DTYPE, 1, 200)).run_s[0]

    return seconds


def timed(run):
    def seconds():
        start = clock()
        jax.block_until_ready(run())
        return clock() - start

    return seconds


# -- direct formulations -----------------------------------------------------------------------------
def numpyro_direct(problem, settings):
    from svi_overhead import update_fused_by_hand

    return {"svi.update in lax.scan": timed(update_fused_by_hand(problem, settings))}


def pymc_direct(problem, settings, minibatch: bool):
    import pymc as pm

    from backends.pymc.model import make_model

    model = make_model(problem, problem.make_data(0).train, batch_size=settings.batch_size if minibatch else 0)
    steps = settings.steps

    def seconds():
        marks = []
        with model:
            pm.fit(
                n=steps,
                method=pm.ADVI(random_seed=0),
                obj_optimizer=pm.adam(learning_rate=settings.learning_rate),
                obj_n_mc=settings.particles,
                progressbar=False,
                callbacks=[lambda approx, losses, i: marks.append(clock())],
            )
        return (marks[-1] - marks[0]) * steps / (len(marks) - 1)  # from its first step: compile excluded

    return {"pm.fit": seconds}


def torch_direct(problem, settings, compile_too: bool):
    import torch

    from backends.torch.target import TorchTarget

    target = TorchTarget(problem, problem.make_data(0).train, torch.device("cpu"), torch.float32)
    dim, particles, lr, steps = target.dim, settings.particles, settings.learning_rate, settings.steps
    log_joint = target.batched()
    mu0 = target.initial_points(np.random.default_rng(0), 1)[0]
    rho0 = torch.full((dim,), float(np.log(settings.init_scale)))

    def negative_elbo(mu, log_sigma, eps):
        z = mu + torch.exp(log_sigma) * eps
        log_q = (-0.5 * eps * eps - log_sigma).sum(-1)
        return -(log_joint(z) - log_q).mean()

    def eager():
        mu, log_sigma = mu0.clone().requires_grad_(True), rho0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([mu, log_sigma], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = negative_elbo(mu, log_sigma, torch.randn(particles, dim))
            loss.backward()
            optimizer.step()
        return mu

    rows = {EAGER: timed(eager)}
    if compile_too:
        grad_and_value = torch.func.grad_and_value(negative_elbo, argnums=(0, 1))

        def step(mu, log_sigma, m, v, t):
            (g_mu, g_sigma), loss = grad_and_value(mu, log_sigma, torch.randn(particles, dim))
            t = t + 1
            out = []
            for p, g, mi, vi in ((mu, g_mu, m[0], v[0]), (log_sigma, g_sigma, m[1], v[1])):
                mi, vi = 0.9 * mi + 0.1 * g, 0.999 * vi + 0.001 * g * g
                out.append((p - lr * (mi / (1 - 0.9**t)) / (torch.sqrt(vi / (1 - 0.999**t)) + 1e-8), mi, vi))
            (mu, m0, v0), (log_sigma, m1, v1) = out
            return mu, log_sigma, (m0, m1), (v0, v1), t, loss

        compiled = torch.compile(step, dynamic=False)

        def functional():
            zeros = torch.zeros(dim)
            state = (mu0.clone(), rho0.clone(), (zeros, zeros), (zeros, zeros), torch.zeros(()))
            for _ in range(steps):
                *state, _loss = compiled(*state)
            return state[0]

        functional()  # compile outside the clock
        rows[COMPILED] = timed(functional)
    return rows


def blackjax_direct(problem, settings):
    import blackjax
    import optax

    from backends.jax_common.target import JaxTarget

    target = JaxTarget(problem, problem.make_data(0).train, jnp.float32)
    vi = blackjax.meanfield_vi(target.logdensity, optax.adam(settings.learning_rate), num_samples=settings.particles)
    state0 = vi.init(jnp.zeros(target.dim, jnp.float32))

    def run(state, key):
        return jax.lax.scan(lambda s, k: vi.step(k, s), state, jax.random.split(key, settings.steps))

    key = jax.random.PRNGKey(0)
    compiled = jax.jit(run).lower(state0, key).compile()
    return {"vi.step in lax.scan": timed(lambda: compiled(state0, key))}


# -- samplers: per gradient evaluation ------------------------------------------------------------
def numpyro_mcmc(problem, settings):
    """NumPyro's own loop (MCMC.warmup, then MCMC.run from its post-warmup state), the whole of it
    under one jax.jit compiled ahead of time. Called plainly, MCMC re-compiles its `fori_collect`
    loop on every call with progress_bar=False (a fresh closure each time: numpyro 0.22, fixed
    upstream in pyro-ppl/numpyro#2171), so a plain call is never steady state; NumPyro supports
    running MCMC under a JAX transform (its docs' `do_mcmc` example), which makes a warm call."""
    from numpyro.infer import MCMC, NUTS

    from backends.jax_common.target import JaxTarget

    target = JaxTarget(problem, problem.make_data(0).train, jnp.float32)
    kernel = NUTS(target.model, target_accept_prob=settings.target_accept, max_tree_depth=settings.max_tree_depth)
    mcmc = MCMC(
        kernel,
        num_warmup=settings.warmup,
        num_samples=settings.draws * settings.thin,
        thinning=settings.thin,
        num_chains=settings.chains,
        chain_method="vectorized",
        progress_bar=False,
    )

    def run(key):
        mcmc.warmup(key, **target.kwargs, collect_warmup=True, extra_fields=("num_steps",))
        warm = mcmc.get_extra_fields()["num_steps"]
        mcmc.run(mcmc.post_warmup_state.rng_key, **target.kwargs, extra_fields=("num_steps",))
        work = jnp.sum(warm) + jnp.sum(mcmc.get_extra_fields()["num_steps"])
        mcmc.post_warmup_state = None  # no traced state outlives the trace
        return work, mcmc.get_samples()

    key = jax.random.PRNGKey(0)
    compiled = jax.jit(run).lower(key).compile()

    def warm_call():
        work, samples = jax.block_until_ready(compiled(key))
        return int(work)

    return {"MCMC(NUTS) warmup + run, jitted": warm_call}


def blackjax_loop(problem, settings):
    import blackjax
    from blackjax.util import run_inference_algorithm

    from backends.jax_common.target import JaxTarget

    target = JaxTarget(problem, problem.make_data(0).train, jnp.float32)
    chains, depth = settings.chains, settings.max_tree_depth
    adaptation = blackjax.window_adaptation(
        blackjax.nuts, target.logdensity, target_acceptance_rate=settings.target_accept, max_num_doublings=depth
    )

    def one_chain(key, start):
        warm_key, key = jax.random.split(key)
        (state, params), warm = adaptation.run(warm_key, start, num_steps=settings.warmup)
        kernel = blackjax.nuts(target.logdensity, **params)  # params carry max_num_doublings
        _, (_, info) = run_inference_algorithm(
            key,
            kernel,
            settings.draws * settings.thin,
            initial_state=state,
            transform=lambda s, i: (s.position, i.num_integration_steps),
        )
        return warm.info.num_integration_steps.sum() + info.sum()

    keys = jax.random.split(jax.random.PRNGKey(0), chains)
    starts = target.uniform_points(jax.random.PRNGKey(1), chains)
    compiled = jax.jit(jax.vmap(one_chain)).lower(keys, starts).compile()
    return {"window_adaptation + run_inference_algorithm": lambda: int(np.sum(compiled(keys, starts)))}


def torch_leapfrog(problem, settings):
    import torch

    from backends.torch.target import TorchTarget

    target = TorchTarget(problem, problem.make_data(0).train, torch.device("cpu"), torch.float32)
    chains, step_size, leapfrogs = settings.chains, settings.step_size, settings.num_steps
    iterations = settings.warmup + settings.draws * settings.thin
    log_joint = target.batched()

    def grad(z):
        z = z.detach().requires_grad_(True)
        lp = log_joint(z)
        return torch.autograd.grad(lp.sum(), z)[0], lp.detach()

    def run():
        torch.manual_seed(0)
        z = target.initial_points(np.random.default_rng(0), chains)
        g, lp = grad(z)
        for _ in range(iterations):
            p0 = torch.randn_like(z)
            p, z_new, g_new = p0 + 0.5 * step_size * g, z, g
            for i in range(leapfrogs):
                z_new = z_new + step_size * p
                g_new, lp_new = grad(z_new)
                p = p + (step_size if i < leapfrogs - 1 else 0.5 * step_size) * g_new
            log_ratio = lp_new - lp - 0.5 * (p * p).sum(-1) + 0.5 * (p0 * p0).sum(-1)
            accept = torch.log(torch.rand(chains)) < log_ratio
            z, g, lp = (
                torch.where(accept[:, None], z_new, z),
                torch.where(accept[:, None], g_new, g),
                torch.where(accept, lp_new, lp),
            )
        return iterations * leapfrogs * chains

    return {"eager leapfrog loop, autograd": run}


def work_timed(run):
    """A run that returns its gradient evaluations: (seconds, evaluations)."""

    def measure():
        start = clock()
        work = run()
        return clock() - start, work

    return measure


# -- the grid ----------------------------------------------------------------------------------------
EAGER, COMPILED = "eager loop, torch.optim.Adam", "torch.compile functional step"


def settings_for(name: str, problem, variant: str = "", **overrides):
    """The method's typed settings for this problem, as a cell would resolve them."""
    method = backends.get_method(name)
    return method.make_settings(resolve_settings(method, problem, variant, {k: str(v) for k, v in overrides.items()}))


def vi_rows(problem, steps: int, compile_torch: bool, wanted) -> list[tuple[str, dict, dict]]:
    """(method label, {formulation: seconds()}, {adapter formulation: the direct one it is set beside})."""
    out = []
    if wanted("numpyro.svi"):
        s = settings_for("numpyro.svi", problem, "auto_normal", steps=steps)
        run, _ = adapter_loop("numpyro.svi", problem, s, "backends.numpyro.svi")
        out.append(("numpyro.svi", {"adapter": timed(run), **numpyro_direct(problem, s)}, {}))
    for name, minibatch in (("pymc.advi", False), ("pymc.advi_minibatch", True)):
        method = backends.get_method(name)
        if not wanted(name) or method.unsupported(problem, "cpu"):
            continue
        s = settings_for(name, problem, steps=steps)
        out.append((name, {"adapter": pymc_adapter(name, problem, s), **pymc_direct(problem, s, minibatch)}, {}))
    if wanted("torch.vi"):
        s = settings_for("torch.vi", problem, steps=steps)
        run, _ = adapter_loop("torch.vi", problem, s, "backends.torch.vi")
        rows, pairs = {"adapter": timed(run)}, {"adapter": EAGER}
        if compile_torch:
            compiled = settings_for("torch.vi", problem, steps=steps, compile="true")
            run_c, _ = adapter_loop("torch.vi", problem, compiled, "backends.torch.vi")
            rows["adapter, compile=true"], pairs["adapter, compile=true"] = timed(run_c), COMPILED
        out.append(("torch.vi", {**rows, **torch_direct(problem, s, compile_torch)}, pairs))
    if wanted("blackjax.meanfield_vi"):
        s = settings_for("blackjax.meanfield_vi", problem, steps=steps)
        run, _ = adapter_loop("blackjax.meanfield_vi", problem, s, "backends.blackjax.vi")
        out.append(("blackjax.meanfield_vi", {"adapter": timed(run), **blackjax_direct(problem, s)}, {}))
    return out


def sampler_rows(problem, iterations: int, wanted) -> list[tuple[str, dict, dict]]:
    out = []
    small = {"warmup": iterations, "draws": iterations, "chains": 2, "thin": 1}
    for name, module, direct in (
        ("numpyro.nuts", "backends.numpyro.nuts", numpyro_mcmc),
        ("blackjax.nuts", "backends.blackjax.mcmc", blackjax_loop),
        ("torch.hmc", "backends.torch.mcmc", torch_leapfrog),
    ):
        if not wanted(name):
            continue
        s = settings_for(name, problem, **small)
        run, fit = adapter_loop(name, problem, s, module)
        grads = fit.grad_evals

        def adapter(run=run, grads=grads):
            start = clock()
            run()
            return clock() - start, grads

        out.append((name, {"adapter": adapter, **{k: work_timed(v) for k, v in direct(problem, s).items()}}, {}))
    return out


def measure(rows, repeats: int, per: str, steps: int | None) -> None:
    """Warm every formulation once, then interleave the repeats; print the median microseconds per
    unit. An adapter's ratio is to the direct formulation it is paired with (torch: eager with
    eager, compiled with compiled), else to the best direct one; "/ best" is always to the best."""
    for _, formulations, _ in rows:
        for run in formulations.values():
            run()
    samples = {(label, f): [] for label, formulations, _ in rows for f in formulations}
    work: dict = {}  # units per run (gradient evaluations for a sampler: its trees' sizes vary)
    for _ in range(repeats):
        for label, formulations, _ in rows:
            for f, run in formulations.items():
                out = run()
                seconds, units = out if isinstance(out, tuple) else (out, steps)
                samples[label, f].append(seconds / units)
                work[label, f] = units
    for label, formulations, pairs in rows:
        medians = {f: float(np.median(samples[label, f])) * 1e6 for f in formulations}
        spread = {f: max(samples[label, f]) / min(samples[label, f]) for f in formulations}
        direct = {f: t for f, t in medians.items() if not f.startswith("adapter")}
        best_name, best = min(direct.items(), key=lambda kv: kv[1])
        for f, t in medians.items():
            if f.startswith("adapter"):
                reference = pairs.get(f, best_name)
                ratio = t / medians[reference]
                flag = "  <- over 1.2" if ratio > 1.2 else ""
                shown = f"{ratio:6.2f} vs {'best' if reference == best_name else 'its pair'}{flag}"
            else:
                shown = "  best" if f == best_name else f"{t / best:6.2f} vs best"
            units = f"  [{work[label, f]} {per}s a run]" if per == "grad" else ""
            print(f"  {label:<22} {f:<44} {t:>10.2f} us/{per}  (max/min {spread[f]:4.2f})  {shown}{units}")


def main() -> None:
    args = ARGS
    import torch

    if args.threads > 0:
        from bench.runtime.threads import configure_loaded

        configure_loaded(args.threads)
    wanted_methods = {m.strip() for m in args.methods.split(",") if m.strip()}
    wanted = lambda name: not wanted_methods or name in wanted_methods
    print(
        f"threads {args.threads or 'library defaults'} (torch intra {torch.get_num_threads()},"
        f" inter {torch.get_num_interop_threads()}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}),"
        f" {DTYPE}, VI steps {args.steps}, MCMC iterations {args.iterations} warm-up + {args.iterations} kept x 2 chains,"
        f" repeats {args.repeats} interleaved, median reported, {args.clock} clock; max/min: the spread of the repeats; an adapter's ratio"
        f" is to its paired direct formulation, else the best one (target <= 1.2)"
    )
    print(f"load average at start {_load()}", flush=True)
    for name in args.problems.split(","):
        problem = suites.get_problem(name.strip())
        print(f"{problem.name}: VI, per step", flush=True)
        measure(vi_rows(problem, args.steps, not args.no_compile, wanted), args.repeats, "step", args.steps)
        print(f"{problem.name}: samplers, per gradient evaluation", flush=True)
        measure(sampler_rows(problem, args.iterations, wanted), args.repeats, "grad", None)
    print(f"load average at end {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
