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
    # the convergence verdict of an iterative VI fit (bench.scoring.convergence): 1 converged, 0 not
    Metric("converged", "conv", "converged (loss no longer falling, loss R-hat at most 1.1)", None,
           kind="diagnostic", summary=False),
    Metric("convergence_stat", "loss fall z", "fall of the mean loss over the last steps, in standard errors", None,
           kind="diagnostic", summary=False),
    Metric("convergence_rhat", "loss R-hat", "R-hat of the loss over the last windows", None, kind="diagnostic",
           summary=False),
    Metric("convergence_drop", "loss fall", "fall of the mean loss over the last steps", None, "nats",
           kind="diagnostic", summary=False),
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
