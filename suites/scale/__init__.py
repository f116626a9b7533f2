"""The scale study's problems: the two-moons network at data size N and hidden widths h.

Names are parametric, `moons_n{N}_h{h}` (e.g. `moons_n1e4_h32`, `moons_n3e5_h4x4` for two
hidden layers), resolved by `suites.get_problem`, so scale cells get keys, content hashes,
resume and failure rows like any other. N is the number of training points; validation and
test sets stay at HOLDOUT points each, so scoring costs the same at every N. The problems are
declared `cost_only`: the worker records time, memory and a cheap test-set quality, and skips
the full-data ELBO and the time-to-accuracy checkpoints (at N = 1e6 those would cost more than
the fit).
"""

from __future__ import annotations

import dataclasses
import re

from bench.spec.family import ProblemFamily
from bench.spec.problem import Dataset, Problem, Recipe, Split

HOLDOUT = 500  # validation and test points each, at every N
NOISE = 0.25
STEPS = 200  # per VI cell: time per step is what is measured, not convergence
SIZES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)  # half-decades from 1e3 to 1e6
WIDTHS = (4, 32, 256)
PATTERN = re.compile(r"moons_n(?P<n>[1-9]\d*(?:e\d+)?)_h(?P<hidden>[1-9]\d*(?:x[1-9]\d*)*)")


def size_token(n: int) -> str:
    """1000 -> '1e3', 30000 -> '3e4', 1500 -> '1500': one spelling per size, so one name per problem."""
    digits = str(int(n))
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    return f"{stripped}e{zeros}" if len(stripped) == 1 and zeros >= 3 else digits


def problem_name(n: int, hidden: int | tuple[int, ...]) -> str:
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    return f"moons_n{size_token(n)}_h{'x'.join(map(str, hidden))}"


def parse(name: str) -> tuple[int, tuple[int, ...]] | None:
    """(N, hidden widths) for a scale problem's name in its one spelling; None for any other name."""
    match = PATTERN.fullmatch(name)
    if match is None:
        return None
    mantissa, _, exponent = match["n"].partition("e")
    n = int(mantissa) * 10 ** int(exponent or 0)
    hidden = tuple(int(w) for w in match["hidden"].split("x"))
    return (n, hidden) if problem_name(n, hidden) == name else None


def grid(sizes=SIZES, widths=WIDTHS) -> list[str]:
    return [problem_name(n, w) for w in widths for n in sizes]


def make_problem(name: str) -> Problem:
    from sklearn.datasets import make_moons

    from suites.bnn.moons import make_problem as moons

    parsed = parse(name)
    if parsed is None:
        raise ValueError(f"{name!r} is not a scale problem name (moons_n<N>_h<width>[x<width>...])")
    n, hidden = parsed

    def make_data(seed: int) -> Dataset:
        x, y = make_moons(n_samples=n + 2 * HOLDOUT, noise=NOISE, random_state=seed)  # shuffled rows
        y = y.astype(float)
        parts = (slice(0, n), slice(n, n + HOLDOUT), slice(n + HOLDOUT, None))
        train, val, test = (Split(x[p], y[p]) for p in parts)
        return Dataset(train=train, val=val, test=test)

    base = moons(hidden=hidden, n_samples=n + 2 * HOLDOUT, noise=NOISE)
    widths = base.config["widths"]
    return dataclasses.replace(
        base,
        name=name,
        suite="scale",
        make_data=make_data,
        recipe=Recipe(steps=STEPS, learning_rate=0.01),
        description=f"make_moons, {n} training points (noise {NOISE}); MLP {'-'.join(map(str, widths))} tanh; Bernoulli",
        config={"widths": widths, "n_train": n, "holdout": HOLDOUT, "noise": NOISE, "cost_only": True},
    )


FAMILY = ProblemFamily(SIZES, WIDTHS, STEPS, problem_name, parse, size_token, make_problem)
