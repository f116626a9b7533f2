"""Problems defined by a model someone already wrote: a PyMC model or a NumPyro model function.

`ModelProblem` is the light declaration (nothing heavy is imported until `.problem()` builds it).
The built problem is an ordinary `Problem`: each latent of the model becomes a latent with a flat
prior on its support (real, positive or an interval) and the model's own log density, at
constrained values and without Jacobian, is the problem's potential. Every backend's translation
of the spec then runs it unchanged, each route evaluating the model itself:

- numpy (the harness's scoring and agreement checks, float64): PyMC's logp compiled by PyTensor's
  C backend at floatX float64, or NumPyro's `log_density` under JAX float64;
- JAX (numpyro.*, blackjax.*): PyTensor's JAX backend (pymc.sampling.jax.get_jaxified_graph) for a
  PyMC model, NumPyro's `log_density` for a NumPyro model;
- PyTensor (pymc.*): the PyMC model's logp graph with its value variables replaced by the
  backend's variables; a NumPyro model through `pytensor.wrap_jax` where PyTensor has it;
- torch: no route, so every torch cell is `unsupported` with that reason.

The flat interval prior's constant -log(high - low) is added back in the potential, so the log
joint is the model's own (the ELBO is the model's ELBO). Transforms other than log and interval
(simplex, ordered, ...) are refused when the problem is built, naming the latent.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.spec.errors import Unsupported
from bench.spec.priors import Flat, FlatPositive, Uniform
from bench.spec.problem import Dataset, Latent, Problem, Recipe
from bench.spec.references import Reference

KINDS = ("pymc", "numpyro")


@dataclass(frozen=True)
class ModelProblem:
    """A problem by its model: kind "pymc" (model(data) returns a pm.Model) or "numpyro" (model(**data)
    is the NumPyro model function), its data, and optionally reference draws (ArviZ netCDF `.nc`, or
    posteriordb's draws JSON, `.json` or `.json.zip`)."""

    name: str
    kind: str
    model: Callable
    data: Mapping[str, Any] = field(default_factory=dict)
    suite: str = "models"
    description: str = ""
    reference_draws: str | Path | None = None
    recipe: Recipe = field(default_factory=Recipe)
    reference_kind: str = "draws"  # "posteriordb" for posteriordb's draws (bench reference verify checks them)
    source: str | None = None  # the model's source text for the spec hash (default: its module's source)
    task: str = "density"
    check_translation: bool = False  # run the translation check against the draws before any cell (posteriordb)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {KINDS}, got {self.kind!r}")

    def problem(self) -> Problem:
        """The built problem (imports the model's framework and evaluates the model once)."""
        target = _PyMCTarget(self) if self.kind == "pymc" else _NumPyroTarget(self)
        return target.problem()


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _source_of(declaration: ModelProblem) -> str:
    if declaration.source is not None:
        return declaration.source
    try:
        return inspect.getsource(inspect.getmodule(declaration.model) or declaration.model)
    except (OSError, TypeError):
        return repr(declaration.model)


def _data_sha(data: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    for key in sorted(data):
        value = data[key]
        digest.update(key.encode())
        if isinstance(value, np.ndarray):
            digest.update(str((value.dtype.str, value.shape)).encode() + np.ascontiguousarray(value).tobytes())
        else:
            digest.update(json.dumps(value, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def _prior(support: tuple) -> Any:
    kind = support[0]
    if kind == "real":
        return Flat()
    if kind == "positive":
        return FlatPositive()
    return Uniform(float(support[1]), float(support[2]))


class _Target:
    """What both kinds share: latents, the potential's dispatch by ops and the problem record."""

    declaration: ModelProblem
    latents: dict[str, tuple[tuple[int, ...], tuple]]  # name -> (shape, support)

    def __init__(self, declaration: ModelProblem) -> None:
        self.declaration = declaration
        self.latents = self.introspect()
        # the flat interval prior's -log(high - low) per element, added back so the log joint is the model's
        self.offset = sum(
            math.log(s[2] - s[1]) * int(np.prod(shape, dtype=int))
            for shape, s in self.latents.values()
            if s[0] == "interval"
        )

    def introspect(self) -> dict[str, tuple[tuple[int, ...], tuple]]:
        raise NotImplementedError

    def numpy_logp(self, values: Mapping[str, np.ndarray]) -> float:
        raise NotImplementedError

    def numpy_logp_batch(self, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        return np.array([self.numpy_logp({k: v[i] for k, v in values.items()}) for i in range(n)])

    def jax_logp(self, values):
        raise NotImplementedError

    def pytensor_logp(self, values):
        raise NotImplementedError

    def potential(self, ops, values):
        kind = self.declaration.kind
        if ops.name == "numpy":
            return self._numpy_potential(values)
        if ops.name == "jax":
            return self.jax_logp(values) + self.offset
        if ops.name == "pytensor":
            return self.pytensor_logp(values) + self.offset
        raise Unsupported(f"a {kind} model has no {ops.name} log density: bench has no route from {kind} to {ops.name}")

    def _numpy_potential(self, values):
        shapes = {name: shape for name, (shape, _) in self.latents.items()}
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items() if k in shapes}
        first = next(iter(shapes))
        if arrays[first].size == int(np.prod(shapes[first], dtype=int)):  # one point
            return self.numpy_logp({k: v.reshape(shapes[k]) for k, v in arrays.items()}) + self.offset
        n = arrays[first].shape[0]  # a batch of draws (bench.spec.draws.over_draws shapes): one value per draw
        batch = {k: v.reshape(n, *shapes[k]) for k, v in arrays.items()}
        return self.numpy_logp_batch(batch, n) + self.offset

    def reference(self, shapes: dict[str, tuple[int, ...]]) -> Reference | None:
        path = self.declaration.reference_draws
        if path is None:
            return None
        return load_reference_draws(Path(path), shapes, self.declaration.reference_kind)

    def problem(self) -> Problem:
        d = self.declaration
        latents = tuple(Latent(name, _prior(support), tuple(shape)) for name, (shape, support) in self.latents.items())
        shapes = {lat.name: lat.shape for lat in latents}
        scored: tuple[str, ...] = ()
        config: dict[str, Any] = {
            "model": d.kind,
            "model_sha256": _sha(_source_of(d).encode()),
            "data_sha256": _data_sha(d.data),
            "check_translation": d.check_translation,
        }
        reference = None
        if d.reference_draws is not None:
            path = Path(d.reference_draws)
            config["reference_draws"] = str(path)
            config["reference_sha256"] = _sha(path.read_bytes())
            stored = reference_names(path)
            scored = tuple(name for name in shapes if name in stored)
            if not scored:
                raise ValueError(f"reference draws {path} name none of the model's latents {sorted(shapes)}")
            cached = self.reference({name: shapes[name] for name in scored})

            def reference(data: Dataset, cached=cached) -> Reference:
                return cached

        return Problem(
            name=d.name,
            suite=d.suite,
            description=d.description or f"{d.kind} model {d.name}",
            latents=latents,
            task=d.task,
            make_data=make_data,
            reference=reference,
            potential=self.potential,
            recipe=d.recipe,
            config=config,
            scored=scored,
        )


def make_data(seed: int) -> Dataset:
    """A model problem's data live in its model: the same for every seed, hashed in its config."""
    return Dataset()


class _PyMCTarget(_Target):
    def build(self, float64: bool = True):
        import pytensor

        with pytensor.config.change_flags(floatX="float64") if float64 else _nothing():
            return self.declaration.model(self.declaration.data)

    def introspect(self):
        from pymc.logprob.transforms import IntervalTransform, LogOddsTransform, LogTransform

        model = self.build()
        shapes = model.eval_rv_shapes()
        latents = {}
        for rv in model.free_RVs:
            transform = model.rvs_to_transforms.get(rv)
            shape = tuple(int(s) for s in shapes[rv.name])
            if transform is None:
                support = ("real",)
            elif isinstance(transform, LogTransform):
                support = ("positive",)
            elif isinstance(transform, LogOddsTransform):
                support = ("interval", 0.0, 1.0)
            elif isinstance(transform, IntervalTransform):
                low, high = (
                    None if b is None else np.asarray(b.eval() if hasattr(b, "eval") else b, dtype=np.float64)
                    for b in transform.args_fn(*rv.owner.inputs)
                )
                if low is None or high is None or np.ptp(low) or np.ptp(high):
                    raise ValueError(f"latent {rv.name}: only a common finite interval is supported")
                support = ("interval", float(low.reshape(-1)[0]), float(high.reshape(-1)[0]))
            else:
                raise ValueError(
                    f"latent {rv.name} has a {type(transform).__name__} transform; model problems "
                    "support real, positive and interval latents"
                )
            latents[rv.name] = (shape, support)
        self._model = model
        return latents

    @cached_property
    def _constrained(self):
        from pymc.model.transform.conditioning import remove_value_transforms

        return remove_value_transforms(self._model)

    @cached_property
    def _compiled(self):
        import pytensor

        with pytensor.config.change_flags(floatX="float64"):
            return self._constrained.compile_logp(jacobian=False)

    def numpy_logp(self, values):
        return float(self._compiled({k: np.asarray(v, dtype=np.float64) for k, v in values.items()}))

    @cached_property
    def _jaxified(self):
        import jax
        from pymc.sampling.jax import get_jaxified_graph

        model = self._constrained
        names = [v.name for v in model.value_vars]
        # PyTensor turns the graph's constants (the data) into JAX arrays as it builds the function; the
        # first call may come inside a backend's jit, where they would be that trace's tracers and leak
        with jax.ensure_compile_time_eval():
            fn = get_jaxified_graph(inputs=model.value_vars, outputs=[model.logp(jacobian=False)])
        return names, fn

    def jax_logp(self, values):
        names, fn = self._jaxified
        return fn(*(values[n] for n in names))[0]

    def pytensor_logp(self, values):
        """The model's logp graph (built at float64 with the problem) with its value variables replaced
        by the backend's variables, cast to the run's floatX: PyMC evaluates the model's own graph."""
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace

        model = self._constrained
        logp = model.logp(jacobian=False)
        replaced = graph_replace(logp, {v: pt.cast(values[v.name], v.dtype) for v in model.value_vars}, strict=False)
        return pt.cast(replaced, pytensor.config.floatX)


class _NumPyroTarget(_Target):
    @cached_property
    def _data(self) -> dict[str, Any]:
        return {k: np.asarray(v) if isinstance(v, (list, tuple)) else v for k, v in self.declaration.data.items()}

    def introspect(self):
        import jax
        from numpyro import handlers
        from numpyro.distributions import constraints

        with jax.enable_x64(True):
            trace = handlers.trace(handlers.seed(self.declaration.model, 0)).get_trace(**self._data)
        latents = {}
        for name, site in trace.items():
            if site["type"] != "sample" or site["is_observed"] or site.get("infer", {}).get("is_auxiliary"):
                continue
            support = site["fn"].support
            base = getattr(support, "base_constraint", support)  # independent(...) of an event-shaped site
            if base is constraints.real:
                kind = ("real",)
            elif base is constraints.positive:
                kind = ("positive",)
            elif base is constraints.unit_interval:
                kind = ("interval", 0.0, 1.0)
            elif isinstance(base, constraints.interval):
                kind = ("interval", float(np.asarray(base.lower_bound)), float(np.asarray(base.upper_bound)))
            else:
                raise ValueError(
                    f"latent {name} has support {support}; model problems support real, positive and interval latents"
                )
            latents[name] = (tuple(np.shape(site["value"])), kind)
        return latents

    def _log_density(self, values, data):
        from numpyro import handlers
        from numpyro.infer.util import log_density

        with handlers.block():  # inside another model (the backend's), the user's sites stay the user's
            return log_density(self.declaration.model, (), data, values)[0]

    @cached_property
    def _batched(self):
        import jax

        with jax.enable_x64(True):
            data = {k: jax.numpy.asarray(v) for k, v in self._data.items()}
        return jax.jit(jax.vmap(lambda values: self._log_density(values, data)))

    def numpy_logp_batch(self, values, n):
        import jax

        with jax.enable_x64(True):
            return np.asarray(
                self._batched({k: np.asarray(v, dtype=np.float64) for k, v in values.items()}), dtype=np.float64
            )

    def numpy_logp(self, values):
        return float(self.numpy_logp_batch({k: np.asarray(v)[None] for k, v in values.items()}, 1)[0])

    def jax_logp(self, values):
        return self._log_density(values, self._data)

    def pytensor_logp(self, values):
        """PyMC on a NumPyro model: the JAX log density as a PyTensor Op (pytensor.wrap_jax), where PyTensor has it."""
        import pytensor

        if not hasattr(pytensor, "wrap_jax"):
            raise Unsupported("a numpyro model has no PyTensor route: this PyTensor has no wrap_jax")
        names = list(self.latents)

        def logp(*arrays):
            return self._log_density(dict(zip(names, arrays)), self._data)

        return pytensor.wrap_jax(logp)(*(values[n] for n in names))


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# -- reference draws ---------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    """A posteriordb JSON file, zipped (its one member) or not."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            return json.loads(archive.read(member))
    return json.loads(path.read_text())


def _stan_column(column: str) -> tuple[str, tuple[int, ...]]:
    """'beta[3]' -> ('beta', (2,)): Stan's 1-based names to 0-based indices."""
    name, _, rest = column.partition("[")
    return name, tuple(int(i) - 1 for i in rest.rstrip("]").split(",")) if rest else ()


def reference_names(path: Path) -> set[str]:
    """The variables a draws file holds (without reading the draws of a netCDF)."""
    if path.suffix == ".nc":
        from bench.spec.arviz_setup import arviz

        return set(arviz().from_netcdf(path).posterior.data_vars)
    return {_stan_column(c)[0] for c in read_json(path)[0]}


def _chains(path: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """{name: (chains, draws, *shape)} from a netCDF's posterior group or posteriordb's draws JSON."""
    if path.suffix == ".nc":
        from bench.spec.arviz_setup import arviz

        posterior = arviz().from_netcdf(path).posterior
        return {name: np.asarray(posterior[name].values, dtype=np.float64) for name in shapes}
    chains = read_json(path)
    per_chain = len(next(iter(chains[0].values())))
    out = {name: np.full((len(chains), per_chain, *shape), np.nan) for name, shape in shapes.items()}
    for c, chain in enumerate(chains):
        for column, values in chain.items():
            name, index = _stan_column(column)
            if name in out:
                out[name][(c, slice(None), *index)] = np.asarray(values, dtype=np.float64)
    missing = [n for n, v in out.items() if np.isnan(v).any()]
    if missing:
        raise ValueError(f"reference draws {path} lack components of {missing}")
    return out


def load_reference_draws(path: Path, shapes: dict[str, tuple[int, ...]], kind: str = "draws") -> Reference:
    """A reference from stored draws: moments from them, the draws themselves as the sampler."""
    chained = _chains(path, shapes)
    first = next(iter(chained.values()))
    chains, per_chain = first.shape[:2]
    values = {k: v.reshape(chains * per_chain, *shapes[k]) for k, v in chained.items()}
    total = chains * per_chain

    def sampler(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        rows = np.arange(total) if n >= total else np.sort(rng.choice(total, size=n, replace=False))
        return {k: v[rows] for k, v in values.items()}

    provenance = {
        "method": f"stored draws ({path.name})",
        "source": str(path),
        "sha256": _sha(path.read_bytes()),
        "chains": int(chains),
        "draws_total": int(total),
    }
    mean = {k: v.mean(axis=0) for k, v in values.items()}
    sd = {k: v.std(axis=0, ddof=1) for k, v in values.items()}
    return Reference(kind, mean, sd, sampler, provenance)
