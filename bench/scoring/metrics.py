"""The metric catalogue: every aggregate metric's column header, axis label, unit, which way is
better and the tasks it applies to, in one table that report, tables, compare, checkpoints and
plots all read (so a metric has one polarity and one name everywhere)."""

from __future__ import annotations

from dataclasses import dataclass

ALL_TASKS = ("density", "classification", "regression")
PREDICTIVE = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    name: str  # the key in records and the store
    header: str  # short column header (summaries, paper tables)
    label: str  # axis label (figures)
    better: str | float | None  # "higher", "lower", a target value the best is closest to, or None: no direction
    unit: str = ""
    tasks: tuple[str, ...] = ALL_TASKS  # the tasks whose records carry it
    kind: str = "quality"  # "quality", "time" or "diagnostic": the regression gate's threshold class
    summary: bool = True  # a column of `bench report`'s summary

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    @property
    def best(self) -> object:
        """"max", "min" or the target value: how a table picks the best entry."""
        return {"higher": "max", "lower": "min"}.get(self.better, self.better)  # type: ignore[arg-type]


_METRICS = (
    Metric("elbo", "ELBO", "ELBO", "higher", "nats"),
    Metric("elbo_se", "ELBO se", "ELBO standard error", "lower", "nats", kind="diagnostic"),
    Metric("khat", "k-hat", "PSIS k-hat", None, kind="diagnostic"),  # a diagnostic: flagged above 0.7, never "best"
    Metric("std_mean_err_max", "max std err", "max standardised mean error", "lower", tasks=("density",)),
    Metric("sd_ratio_min", "sd ratio", "min sd ratio", 1.0, tasks=("density",)),
    Metric("w1_max", "W1", "max 1-D Wasserstein distance", "lower", tasks=("density",), summary=False),
    Metric("auc", "AUC", "AUC", "higher", tasks=("classification",)),
    Metric("auc_draws_sd", "AUC sd", "AUC sd over draws", "lower", tasks=("classification",), kind="diagnostic"),
    Metric("accuracy", "accuracy", "accuracy", "higher", tasks=("classification",)),
    Metric("rmse", "RMSE", "RMSE to the true function", "lower", tasks=("regression",)),
    Metric("coverage_90", "cover90", "90% interval coverage", 0.9, tasks=("regression",)),
    Metric("lpd", "LPD", "test log predictive density", "higher", "nats", tasks=PREDICTIVE),
    Metric("brier", "Brier", "Brier score", "lower", tasks=("classification",)),
    Metric("ece", "ECE", "expected calibration error", "lower", tasks=("classification",)),
    Metric("ref_agreement", "ref agree", "mean |p - p_ref|", "lower", tasks=PREDICTIVE),
    Metric("ess_bulk_min", "min ESS", "min bulk ESS", "higher", kind="diagnostic"),
    Metric("r_hat_max", "R-hat", "max R-hat", 1.0, kind="diagnostic"),
    Metric("acceptance_rate", "accept", "acceptance rate", "higher", kind="diagnostic"),
    Metric("compile_s", "compile_s", "compile time (s)", "lower", "s", kind="time"),
    Metric("run_s", "run_s", "run time (s)", "lower", "s", kind="time"),
    Metric("steps_per_s", "steps/s", "steps per second", "higher", "1/s", kind="time"),
    Metric("ess_per_s", "ESS/s", "bulk ESS per second", "higher", "1/s", kind="time"),
    # context and standard errors the regression gate reads (no direction, not summary columns)
    Metric("load_1m", "load", "1-minute load average at the cell's start", None, kind="context", summary=False),
    Metric("cores", "cores", "CPU cores", None, kind="context", summary=False),
    Metric("run_s_spread", "spread", "slowest / fastest timed repeat", None, kind="context", summary=False),
    Metric("peak_device_bytes", "peak dev mem", "peak device memory (bytes)", None, "B", kind="context", summary=False),
    Metric("peak_rss_bytes", "peak RSS", "peak resident memory of the cell's process (bytes)", None, "B",
           kind="context", summary=False),
    Metric("auc_se", "AUC se", "bootstrap standard error of the AUC", None, tasks=("classification",),
           kind="diagnostic", summary=False),
    Metric("std_mean_err_max_se", "std err se", "MCSE of the worst standardised mean error", None,
           tasks=("density",), kind="diagnostic", summary=False),
)
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}

# The metric each task is judged by against cost and time (checkpoints, cost-accuracy figures).
QUALITY_METRIC = {"density": "std_mean_err_max", "classification": "auc", "regression": "rmse"}


def quality_metric(task: str) -> Metric:
    return METRICS[QUALITY_METRIC[task]]


def quality_label(problem) -> str:
    """The quality metric's axis label for one problem: its recipe's, where it names the target."""
    return problem.recipe.quality_label or quality_metric(problem.task).label


def result_metrics(metrics: dict) -> dict:
    """The metrics that describe the result, not the machine or the clock: what must be identical
    for the same cell, seed and code wherever and whenever it ran (timings and context dropped)."""
    return {name: value for name, value in metrics.items()
            if not name.endswith("_s") and METRICS.get(name, _UNLISTED).kind not in ("time", "context")}


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
        return {"classification": f"AUC >= ref - {self.value:g}", "regression": f"RMSE <= ref + {self.value:g}"}[self.task]

    def target(self, reference_quality: float | None) -> float:
        """The quality the threshold asks for: NaN where it needs a reference quality that is missing."""
        if not self.relative_to_reference:
            return self.value
        if reference_quality is None:
            return float("nan")
        return reference_quality - self.value if quality_metric(self.task).higher_is_better else reference_quality + self.value


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
    ("steps", "steps", "steps (iterations, warm-up included) to", "quality"),
    ("grads", "grad evals", "gradient evaluations (log-density evaluations for MH) to", "quality"),
    ("reached", "reached", "1 if the fit reached", "diagnostic"),
)


def thresholds_for(task: str) -> tuple[Threshold, ...]:
    return tuple(t for t in THRESHOLDS if t.task == task)


def _cost_to_accuracy_metrics() -> None:
    for threshold in THRESHOLDS:
        for suffix, header, label, kind in COST_TO_ACCURACY:
            name = f"to_{threshold.name}_{suffix}"
            METRICS[name] = Metric(name, f"{header} to {threshold.label()}", f"{label} {threshold.label()}",
                                   None if suffix == "reached" else "lower", "s" if suffix == "s" else "",
                                   tasks=(threshold.task,), kind=kind, summary=False)  # fmt: skip
    METRICS["quality_ref"] = Metric("quality_ref", "ref quality", "the reference posterior's quality metric", None,
                                    tasks=PREDICTIVE, kind="diagnostic", summary=False)  # fmt: skip


_cost_to_accuracy_metrics()
