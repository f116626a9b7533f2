"""Two moons (PyData Berlin SVI seed): MLP 2-4-3-1, tanh, SoftLaplace weights, Normal biases."""

from __future__ import annotations

from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from bench.spec.networks import MLP, grid_2d
from bench.spec.priors import Normal, SoftLaplace
from bench.spec.problem import Dataset, Problem, Recipe, Split


def make_problem(hidden: tuple[int, ...] = (4, 3), n_samples: int = 2000, noise: float = 0.25) -> Problem:
    """The seed's problem by default; wider nets and more data are parameters (for scaling studies)."""
    net = MLP((2, *hidden, 1), "tanh", bias=True)

    def make_data(seed: int) -> Dataset:
        x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
        x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.3, random_state=seed)
        x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.3, random_state=seed)
        as_float = lambda a: a.astype(float)
        return Dataset(
            train=Split(x_train, as_float(y_train)),
            val=Split(x_val, as_float(y_val)),
            test=Split(x_test, as_float(y_test)),
        )

    return Problem(
        name="moons",
        suite="bnn",
        description=f"make_moons({n_samples}, noise {noise}); MLP {'-'.join(map(str, net.widths))} tanh; Bernoulli",
        latents=net.latents(SoftLaplace(0.0, 1.0), Normal(0.0, 1.0)),
        task="classification",
        make_data=make_data,
        likelihood=net.likelihood("bernoulli", "logits"),
        recipe=Recipe(
            steps=5000,
            learning_rate=0.01,
            particles=1,
            # NUTS trees capped at depth 8 (255 leapfrog steps): at depth 10 a build took over 20 minutes
            reference={"warmup": 1000, "draws": 2500, "thin": 1, "max_tree_depth": 8},
        ),
        grid=lambda: grid_2d((-2.5, 3.5), (-2.0, 2.5), 100),
        config={"widths": net.widths, "n_samples": n_samples, "noise": noise},
    )


PROBLEM = make_problem()
