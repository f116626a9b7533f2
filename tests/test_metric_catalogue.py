"""One metric catalogue: every metric name bench/ uses (tables, gate, exports, summary) or a fit
emits is in bench.scoring.metrics, and every satellite table derives from it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np

import suites
from bench.regression import dashboards, gate, sides
from bench.reporting import report, tables
from bench.scoring import fit_metrics, metrics
from bench.scoring.metrics import METRICS
from bench.spec.fitting import FitResult

ROOT = Path(__file__).resolve().parent.parent
# DataFrame columns and record fields that sit where metric names do (metrics["metric"] == ...)
NOT_METRICS = {"metric", "value", "record_id", "component"}


def names_in_source() -> dict[str, set[str]]:
    """Metric names in bench/'s code: keys of `metrics[...]` / `aggregates[...]`, values compared with
    `metric`, and the metric arguments of the store's metric queries."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "bench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                holder = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", None)
                if holder in ("metrics", "aggregates"):
                    names.append(node.slice.value)
            left = getattr(node, "left", None)
            if isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Constant):  # frame["metric"] == "steps"
                left = ast.Name(id=left.slice.value)
            if isinstance(node, ast.Compare) and isinstance(left, ast.Name) and left.id == "metric":
                for c in node.comparators:
                    elements = c.elts if isinstance(c, (ast.Tuple, ast.List, ast.Set)) else [c]
                    names += [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
                "_values",
                "metric_history",
                "component_metrics",
            ):
                names += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            for name in set(names) - NOT_METRICS:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_metric_name_in_the_code_is_in_the_catalogue():
    found = names_in_source()
    assert {"compile_s", "run_s", "khat", "steps"} <= set(found)  # the scan sees the gate and the scoring
    missing = {name: paths for name, paths in found.items() if name not in METRICS}
    assert not missing, missing


def test_every_satellite_table_derives_from_the_catalogue():
    used = set(sides.GATED) | set(sides.METRICS) | set(metrics.STANDARD_ERRORS) | set(metrics.STANDARD_ERRORS.values())
    used |= set(dashboards.UNITS) | set(metrics.FLAGS) | set(metrics.QUALITY_METRIC.values())
    used |= {
        m
        for spec in (*tables.TASK_COLUMNS.values(), *tables.SUITE_COLUMNS.values(), tables.MCMC_COLUMNS)
        for m, _, _ in spec
    }
    used |= {m for m, _ in report.SUMMARY_METRICS}
    assert used <= set(METRICS), used - set(METRICS)
    # the headers a narrow terminal drops are real summary headers (not "min sd ratio" / "max R-hat")
    headers = [header for _, header in report.SUMMARY_METRICS]
    keep = importlib.import_module("bench.cli.app").SUMMARY_KEEP_ORDER  # the module (bench.cli.app is the Typer app)
    assert set(keep) == set(headers) and len(keep) == len(headers)
    # one unit, one standard error, one k-hat threshold everywhere
    assert dashboards.UNITS is metrics.UNITS and gate.STANDARD_ERRORS is metrics.STANDARD_ERRORS
    assert tables.STANDARD_ERRORS is metrics.STANDARD_ERRORS
    assert tables.KHAT_FLAG == fit_metrics.KHAT_FLAG == METRICS["khat"].flag.above == 0.7
    for metric, header, best in (spec for specs in tables.SUITE_COLUMNS.values() for spec in specs):
        assert (header, best) == (METRICS[metric].header, METRICS[metric].best)
    assert METRICS["lpd"].unit == "nats per point" and METRICS["steps_per_s"].unit == "steps/s"


def _draws(problem, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = [problem.random_point(rng) for _ in range(n)]
    return {name: np.stack([p[name] for p in points]) for name in points[0]}


def test_every_metric_a_fit_emits_is_in_the_catalogue():
    emitted: set[str] = set()
    density = suites.get_problem("coinflip")
    data = density.make_data(0)
    f = np.random.default_rng(0).beta(13, 9, size=2400)
    from scipy import stats

    sampler = {"acceptance_rate": 0.8, "divergences": 0}
    fit = FitResult(
        draws={"f": f},
        log_q=stats.beta(13, 9).logpdf(f),
        losses=np.zeros(10),
        compile_s=1.0,
        run_s=[1.0, 1.2],
        steps=10,
        grad_evals=10,
        chains=4,
        info=sampler,
    )
    scored = fit_metrics.score(density, data, fit, density.reference(data), 0)
    emitted |= set(scored["metrics"]) | set(scored["components"])
    for name in ("moons", "sine"):  # classification and regression, scored without a reference
        problem = suites.get_problem(name)
        fit = FitResult(draws=_draws(problem, 20), log_q=None, losses=np.zeros(5), compile_s=0.1, run_s=[0.1], steps=5)
        emitted |= set(fit_metrics.score(problem, problem.make_data(0), fit, None, 0)["metrics"])
        emitted |= set(fit_metrics.cost_only_metrics(problem, problem.make_data(0), fit, 0))
    from bench.execution.worker import machine_load
    from bench.runtime.gpu import peak_memory

    emitted |= set(machine_load()) | set(peak_memory("cpu", None))
    assert {"elbo", "sd_ratio_max", "sd_ratio_min", "auc", "rmse", "ess_bulk_min"} <= emitted
    assert emitted <= set(METRICS), emitted - set(METRICS)
