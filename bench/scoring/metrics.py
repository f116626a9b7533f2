"""The metric catalogue: every metric a record can carry, with its column header, axis label, unit,
which way is better, the tasks it applies to, the metric holding its standard error, whether the
regression gate checks it, its rank in the terminal summary and the rule that flags it. Report,
tables, the gate, the dashboards, checkpoints and plots all derive their lists from this one table,
so a metric has one name, one polarity and one unit everywhere (tests/test_metric_catalogue.py
checks that every metric name bench/ uses or a fit emits is here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

ALL_TASKS = ("density", "classification", "regression")
PREDICTIVE = ("classification", "regression")


@dataclass(frozen=True)
class Flag:
    """A value a table marks wherever it shows the cell: k-hat above 0.7, a fit that did not converge."""

    above: float | None = None  # flagged when the value exceeds this
    equals: float | None = None  # flagged when the value equals this
    text: str = ""  # what the mark means, in a legend ("PSIS k-hat > 0.7")
    short: str = ""  # the mark in a summary's flags column ("k-hat > 0.7")
    marker: str = "†"  # Markdown, HTML, summary and CSV
    latex: str = r"\dagger"  # LaTeX, as a superscript in math
    excludes_best: bool = False  # a flagged row is never bolded as best

    def applies(self, value: object) -> bool:
        if value is None:
            return False
        value = float(value)  # type: ignore[arg-type]
        if math.isnan(value):
            return False
        if self.above is not None and value > self.above:
            return True
        return self.equals is not None and value == self.equals


@dataclass(frozen=True)
class Metric:
    name: str  # the key in records and the store
    header: str  # short column header (summaries, paper tables)
    label: str  # axis label (figures)
    better: str | float | None  # "higher", "lower", a target value the best is closest to, or None: no direction
    unit: str = ""  # "" for a pure number
    tasks: tuple[str, ...] = ALL_TASKS  # the tasks whose records carry it
    kind: str = "quality"  # "quality", "time", "diagnostic", "cost" (deterministic counts) or "context"
    summary: bool = True  # a column of `bench report`'s summary
    se: str | None = None  # the metric holding this one's per-record standard error
    gated: bool = False  # the regression gate (`bench compare`) checks it
    rank: int | None = None  # summary columns leave a narrow terminal highest rank first; None: never dropped
    flag: Flag | None = None  # the rule that marks a value in every format

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    @property
    def best(self) -> object:
        """ "max", "min" or the target value: how a table picks the best entry."""
        return {"higher": "max", "lower": "min"}.get(self.better, self.better)  # type: ignore[arg-type]


KHAT = Flag(
    above=0.7, text="PSIS k-hat > 0.7: importance weights unreliable", short="k-hat > 0.7", marker="†", latex=r"\dagger"
)
NOT_CONVERGED = Flag(
    equals=0.0,
    text="not converged: the loss was still falling (convergence_stat, in standard "
    "errors) or not stationary (convergence_rhat above 1.1); never bolded as best",
    short="not converged",
    marker="‡",
    latex=r"\ddagger",
    excludes_best=True,
)
DIAG, CTX = "diagnostic", "context"
DENSITY, CLASSIFICATION, REGRESSION = ("density",), ("classification",), ("regression",)

_METRICS = (
    # quality (the headline columns)
    Metric("elbo", "ELBO", "ELBO", "higher", "nats", se="elbo_se", gated=True, rank=1),
    Metric("elbo_se", "ELBO se", "ELBO standard error", "lower", "nats", kind=DIAG, rank=23),
    Metric("khat", "k-hat", "PSIS k-hat", None, kind=DIAG, rank=8, flag=KHAT),  # a diagnostic: flagged, never "best"
    Metric("khat_flag", "k-hat flag", "k-hat above 0.7 (1) or not (0)", None, kind=DIAG, summary=False),
    Metric(
        "std_mean_err_max",
        "max std err",
        "max standardised mean error",
        "lower",
        "sd",
        DENSITY,
        se="std_mean_err_max_se",
        gated=True,
        rank=2,
    ),
    Metric("std_mean_err_mean", "mean std err", "mean standardised mean error", "lower", "sd", DENSITY, summary=False),
    Metric("sd_ratio_min", "sd ratio", "min sd ratio", 1.0, tasks=DENSITY, rank=3),
    Metric("sd_ratio_max", "max sd ratio", "max sd ratio", 1.0, tasks=DENSITY, rank=4),
    Metric("sd_ratio_mean", "mean sd ratio", "mean sd ratio", 1.0, tasks=DENSITY, summary=False),
    Metric("w1_max", "W1", "max 1-D Wasserstein distance", "lower", tasks=DENSITY, summary=False),
    Metric("w1_mean", "mean W1", "mean 1-D Wasserstein distance", "lower", tasks=DENSITY, summary=False),
    Metric(
        "w1_sd_max",
        "max W1 (sd)",
        "max 1-D Wasserstein distance in reference sds",
        "lower",
        "sd",
        DENSITY,
        summary=False,
    ),
    Metric(
        "w1_sd_mean",
        "mean W1 (sd)",
        "mean 1-D Wasserstein distance in reference sds",
        "lower",
        "sd",
        DENSITY,
        summary=False,
    ),
    Metric("auc", "AUC", "AUC", "higher", tasks=CLASSIFICATION, se="auc_se", gated=True, rank=5),
    Metric("auc_draws_sd", "AUC sd", "AUC sd over draws", "lower", tasks=CLASSIFICATION, kind=DIAG, rank=21),
    Metric("auc_draws_mean", "AUC draws", "mean AUC over draws", "higher", tasks=CLASSIFICATION, summary=False),
    Metric("accuracy", "accuracy", "accuracy", "higher", tasks=CLASSIFICATION, gated=True, rank=6),
    Metric("rmse", "RMSE", "RMSE to the true function", "lower", tasks=REGRESSION, gated=True, rank=7),
    Metric(
        "rmse_all", "RMSE all", "RMSE to the true function, whole test range", "lower", tasks=REGRESSION, summary=False
    ),
    Metric("coverage_90", "cover90", "90% interval coverage", 0.9, tasks=REGRESSION, rank=15),
    Metric("lpd", "LPD", "test log predictive density", "higher", "nats per point", PREDICTIVE, gated=True, rank=16),
    Metric("brier", "Brier", "Brier score", "lower", tasks=CLASSIFICATION, rank=22),
    Metric("ece", "ECE", "expected calibration error", "lower", tasks=CLASSIFICATION, rank=18),
    Metric("ref_agreement", "ref agree", "mean |p - p_ref|", "lower", tasks=PREDICTIVE, rank=17),
    # convergence of an iterative fit (an optimiser's verdict; a sampler's is its R-hat)
    # the convergence verdict of an iterative VI fit (bench.scoring.convergence): 1 converged, 0 not
    Metric(
        "converged",
        "conv",
        "converged (loss no longer falling, loss R-hat at most 1.1)",
        None,
        kind=DIAG,
        summary=False,
        flag=NOT_CONVERGED,
    ),
    Metric(
        "convergence_stat",
        "loss fall z",
        "fall of the mean loss over the last steps, in standard errors",
        None,
        kind=DIAG,
        summary=False,
    ),
    Metric("convergence_rhat", "loss R-hat", "R-hat of the loss over the last windows", None, kind=DIAG, summary=False),
    Metric(
        "convergence_drop",
        "loss fall",
        "fall of the mean loss over the last steps",
        None,
        "nats",
        kind=DIAG,
        summary=False,
    ),
    Metric(
        "convergence_window",
        "loss window",
        "fraction of the trace the verdict read (by learning-rate schedule)",
        None,
        kind=DIAG,
        summary=False,
    ),
    # samplers
    Metric("ess_bulk_min", "min ESS", "min bulk ESS", "higher", kind=DIAG, rank=19),
    Metric("ess_tail_min", "min tail ESS", "min tail ESS", "higher", kind=DIAG, summary=False),
    Metric("r_hat_max", "R-hat", "max R-hat", 1.0, kind=DIAG, rank=14),
    Metric("acceptance_rate", "accept", "acceptance rate", "higher", kind=DIAG, rank=20),
    Metric("divergences", "divergences", "divergent transitions", "lower", kind=DIAG, summary=False),
    Metric("mean_tree_steps", "tree steps", "mean leapfrog steps per draw", None, kind=DIAG, summary=False),
    Metric("draws_outside_support", "outside", "draws of q outside the support", "lower", kind=DIAG, summary=False),
    # cost
    Metric("compile_s", "compile_s", "compile time (s)", "lower", "s", kind="time", gated=True, rank=10),
    Metric(
        "compile_cached_s",
        "compile_s cached",
        "compile time from the persistent cache (s)",
        "lower",
        "s",
        kind="time",
        rank=11,
    ),
    Metric("run_s", "run_s", "run time (s)", "lower", "s", kind="time", gated=True, rank=9),
    Metric("steps_per_s", "steps/s", "steps per second", "higher", "steps/s", kind="time", gated=True, rank=12),
    Metric("ess_per_s", "ESS/s", "bulk ESS per second", "higher", "ESS/s", kind="time", rank=13),
    Metric("steps", "steps", "steps taken", None, "steps", kind="cost", summary=False),
    Metric("grad_evals", "grad evals", "gradient evaluations", "lower", "gradients", kind="cost", summary=False),
    Metric("time_per_step_s", "s/step", "run time per step (s)", "lower", "s", kind="time", summary=False),
    Metric(
        "time_per_grad_s", "s/grad", "run time per gradient evaluation (s)", "lower", "s", kind="time", summary=False
    ),
    Metric(
        "loss_native",
        "loss",
        "the library's own final loss (mean of the last 100 steps)",
        None,
        kind=DIAG,
        summary=False,
    ),
    # per-component values (stored with a component name; the aggregates above summarise them)
    Metric("std_mean_err", "std err", "standardised mean error, per component", "lower", "sd", DENSITY, summary=False),
    Metric("sd_ratio", "sd ratio", "sd ratio, per component", 1.0, tasks=DENSITY, summary=False),
    Metric("w1", "W1", "1-D Wasserstein distance, per component", "lower", tasks=DENSITY, summary=False),
    Metric(
        "w1_sd",
        "W1 (sd)",
        "1-D Wasserstein distance in reference sds, per component",
        "lower",
        "sd",
        DENSITY,
        summary=False,
    ),
    # context and standard errors the regression gate reads (no direction, not summary columns)
    Metric("load_1m", "load", "1-minute load average at the cell's start", None, kind=CTX, summary=False),
    Metric("cores", "cores", "CPU cores", None, kind=CTX, summary=False),
    Metric("run_s_spread", "spread", "slowest / fastest timed repeat", None, kind=CTX, summary=False),
    Metric("peak_device_bytes", "peak dev mem", "peak device memory (bytes)", None, "B", kind=CTX, summary=False),
    Metric(
        "peak_rss_bytes",
        "peak RSS",
        "peak resident memory of the cell's process (bytes)",
        None,
        "B",
        kind=CTX,
        summary=False,
    ),
    Metric(
        "auc_se", "AUC se", "bootstrap standard error of the AUC", None, tasks=CLASSIFICATION, kind=DIAG, summary=False
    ),
    Metric(
        "std_mean_err_max_se",
        "std err se",
        "MCSE of the worst standardised mean error",
        None,
        "sd",
        DENSITY,
        kind=DIAG,
        summary=False,
    ),
)
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}

# -- the satellite tables, derived ------------------------------------------------------------------
GATED: tuple[str, ...] = tuple(m.name for m in _METRICS if m.gated)
STANDARD_ERRORS: dict[str, str] = {m.name: m.se for m in _METRICS if m.se}
FLAGS: dict[str, Flag] = {m.name: m.flag for m in _METRICS if m.flag}
UNITS: dict[str, str] = {m.name: m.unit for m in _METRICS if m.unit}
SUMMARY_KEEP_ORDER: tuple[str, ...] = tuple(
    m.header for m in sorted((m for m in _METRICS if m.summary and m.rank is not None), key=lambda m: m.rank)
)  # summary headers, kept longest first: a narrow terminal drops them from the end

# The metric each task is judged by against cost and time (checkpoints, cost-accuracy figures).
QUALITY_METRIC = {"density": "std_mean_err_max", "classification": "auc", "regression": "rmse"}


def quality_metric(task: str) -> Metric:
    return METRICS[QUALITY_METRIC[task]]


def quality_label(problem) -> str:
    """The quality metric's axis label for one problem: its recipe's, where it names the target."""
    return problem.recipe.quality_label or quality_metric(problem.task).label


def flags_of(values: dict) -> list[Flag]:
    """The flags a cell's metrics raise (k-hat above its threshold, not converged), in catalogue order."""
    return [flag for name, flag in FLAGS.items() if flag.applies(values.get(name))]


def result_metrics(metrics: dict) -> dict:
    """The metrics that describe the result, not the machine or the clock: what must be identical
    for the same cell, seed and code wherever and whenever it ran (timings and context dropped)."""
    return {
        name: value
        for name, value in metrics.items()
        if not name.endswith("_s") and METRICS.get(name, _UNLISTED).kind not in ("time", "context")
    }


_UNLISTED = Metric("", "", "", None)


# Cost to accuracy (bench.scoring.accuracy): the first checkpoint from which the task's quality metric
# stays within a threshold (to the last one), as seconds, steps and gradient evaluations. Density: the max
# standardised mean error at most `value` reference sds; networks: the AUC within `value` of the
# reference posterior's; regression: the RMSE to the true function within `value` of the reference's.
@dataclass(frozen=True)
class Threshold:
    name: str  # the stem of its metrics: to_<name>_s, _steps, _grads, _reached
    task: str
    value: float  # an absolute bound (density) or a margin from the reference posterior's quality
    relative_to_reference: bool = False

    def label(self) -> str:
        if not self.relative_to_reference:
            return f"max std err <= {self.value:g}"
        return {"classification": f"AUC >= ref - {self.value:g}", "regression": f"RMSE <= ref + {self.value:g}"}[
            self.task
        ]

    def target(self, reference_quality: float | None) -> float:
        """The quality the threshold asks for: NaN where it needs a reference quality that is missing."""
        if not self.relative_to_reference:
            return self.value
        if reference_quality is None:
            return float("nan")
        return (
            reference_quality - self.value
            if quality_metric(self.task).higher_is_better
            else reference_quality + self.value
        )


THRESHOLDS = (
    Threshold("smerr_1", "density", 1.0),
    Threshold("smerr_0.3", "density", 0.3),
    Threshold("smerr_0.1", "density", 0.1),
    Threshold("auc_0.05", "classification", 0.05, relative_to_reference=True),
    Threshold("auc_0.01", "classification", 0.01, relative_to_reference=True),
    Threshold("rmse_0.05", "regression", 0.05, relative_to_reference=True),
    Threshold("rmse_0.01", "regression", 0.01, relative_to_reference=True),
)
# (suffix, header, label, kind): what each threshold's metrics measure; `_reached` is 1 or 0, and the
# costs of a threshold not reached are absent (tables show `not reached`).
COST_TO_ACCURACY = (
    ("s", "s", "seconds (pro rata) to", "time"),
    ("steps", "steps", "steps (iterations, warm-up included) to", "cost"),
    ("grads", "grad evals", "gradient evaluations (log-density evaluations for MH) to", "cost"),
    ("reached", "reached", "1 if the fit reached", "diagnostic"),
)


def thresholds_for(task: str) -> tuple[Threshold, ...]:
    return tuple(t for t in THRESHOLDS if t.task == task)


def _cost_to_accuracy_metrics() -> None:
    for threshold in THRESHOLDS:
        for suffix, header, label, kind in COST_TO_ACCURACY:
            name = f"to_{threshold.name}_{suffix}"
            METRICS[name] = Metric(
                name,
                f"{header} to {threshold.label()}",
                f"{label} {threshold.label()}",
                None if suffix == "reached" else "lower",
                "s" if suffix == "s" else "",
                tasks=(threshold.task,),
                kind=kind,
                summary=False,
            )
    METRICS["quality_ref"] = Metric(
        "quality_ref",
        "ref quality",
        "the reference posterior's quality metric",
        None,
        tasks=PREDICTIVE,
        kind="diagnostic",
        summary=False,
    )


_cost_to_accuracy_metrics()
