"""Figures from the store (matplotlib): every function takes the latest-records table of a
selection and returns {name: Figure}, so `bench plot` saves them and the HTML report embeds them.

Kinds: ELBO traces; accuracy against cost (run time and gradient evaluations, Pareto front);
time to accuracy (ELBO, and the task's quality metric at the run's checkpoints, against run
time); toy densities over the exact reference; network predictive surfaces and sine bands
beside the MCMC reference; per-draw AUC distributions.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import suites
from bench.scoring.metrics import quality_label, quality_metric
from bench.store import component_metrics, load_arrays, traces

KINDS = ("elbo", "cost", "time", "accuracy", "densities", "surfaces", "auc", "scale")
TIME_COLUMNS = 4  # problems side by side in the time-to-accuracy figure before it wraps


def _quality(problem: str) -> tuple[str, str, bool]:
    """The problem's quality metric, its axis label, and whether lower is better."""
    spec = suites.get_problem(problem)
    metric = quality_metric(spec.task)
    return metric.name, quality_label(spec), not metric.higher_is_better


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"]


def _traces(store: Path, record_ids: list[int]) -> pd.DataFrame:
    return traces(store, record_ids)


def _grid(n: int, width: float = 4.2, height: float = 3.4):
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _vi_rows(table: pd.DataFrame) -> pd.DataFrame:
    ok = _ok(table)
    return ok[ok["elbo"].notna()] if "elbo" in ok else ok.iloc[0:0]


SEED_STYLES = ("-", "--", ":", "-.")
LEGEND_SIZE = 9


def _elbo_panel(ax, rows: pd.DataFrame, traces: pd.DataFrame, table: pd.DataFrame, per_second: bool) -> None:
    """ELBO (negative loss) per step, or per second of run time, methods overlaid (colour), seeds
    told apart by line style, and the exact log evidence where the problem has one."""
    seeds = sorted(rows["seed"].unique()) if len(rows) else []
    for method, group in rows.groupby("method"):
        for i, (_, row) in enumerate(group.iterrows()):
            trace = traces[traces["record_id"] == row["record_id"]]
            x = trace["step"].to_numpy(dtype=float)
            if per_second:
                x = x * row["run_s"] / max(row["steps"], 1.0)
            ax.plot(
                x,
                -trace["loss"].to_numpy(),
                lw=1.2,
                alpha=0.85,
                label=method if i == 0 else None,
                color=_colour(method, table),
                ls=SEED_STYLES[seeds.index(row["seed"]) % len(SEED_STYLES)],
            )
    if len(seeds) > 1:  # style proxies: which line is which seed
        for seed in seeds:
            ax.plot(
                [], [], color="0.4", lw=1.2, ls=SEED_STYLES[seeds.index(seed) % len(SEED_STYLES)], label=f"seed {seed}"
            )
    ax.set_xscale("log")
    _quiet_log_ticks(ax.xaxis)
    log_z = _log_evidence(rows["problem"].iloc[0], int(rows["seed"].iloc[0])) if len(rows) else None
    if log_z is not None:
        ax.axhline(log_z, color="black", lw=1, ls="--", label=f"exact log Z = {log_z:.3g}")
    shown = -traces[traces["record_id"].isin(rows["record_id"])]["loss"]
    if shown.notna().any():
        low = np.nanpercentile(shown, 20)
        high = max(np.nanmax(shown), log_z if log_z is not None else -np.inf)
        ax.set_ylim(bottom=low - 0.1 * abs(low) - 1.0, top=high + 0.05 * abs(high) + 0.5)
    ax.set(xlabel="run time (s)" if per_second else "step", ylabel="ELBO (negative loss)")
    if len(rows):
        ax.legend(fontsize=LEGEND_SIZE)


def _log_evidence(problem_name: str, seed: int) -> float | None:
    problem = suites.get_problem(problem_name)
    if problem.reference is None:
        return None
    return problem.reference(problem.make_data(seed)).log_evidence


def _quiet_log_ticks(axis) -> None:
    """Major decades only, at most six labels: minor labels on a short log range overlap."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, numticks=6))
    axis.set_minor_formatter(NullFormatter())


def elbo_traces(store: Path, table: pd.DataFrame) -> dict[str, plt.Figure]:
    """ELBO (negative loss) against log-scaled steps, all VI methods overlaid per problem."""
    vi = _vi_rows(table)
    if vi.empty:
        return {}
    traces = _traces(store, [int(r) for r in vi["record_id"]])
    problems = sorted(vi["problem"].unique())
    fig, axes = _grid(len(problems))
    for ax, problem in zip(axes, problems):
        _elbo_panel(ax, vi[vi["problem"] == problem], traces, table, per_second=False)
        ax.set_title(problem)
    fig.tight_layout()
    return {"elbo": fig}


def time_to_accuracy(store: Path, table: pd.DataFrame) -> dict[str, plt.Figure]:
    """Per problem: the ELBO against run time (top) and the task's quality metric at the checkpoints
    the run recorded (bottom; VI snapshots and MCMC prefixes, pro rata within the timed run)."""
    ok, vi = _ok(table), _vi_rows(table)
    checkpoints = {int(r): load_arrays(store, int(r), prefix="checkpoint_") for r in ok["record_id"]}
    checkpoints = {r: a for r, a in checkpoints.items() if "checkpoint_quality" in a}
    problems = sorted(set(vi["problem"]) | set(ok.loc[ok["record_id"].isin(list(checkpoints)), "problem"]))
    if not problems:
        return {}
    traces = _traces(store, [int(r) for r in vi["record_id"]])
    cols = min(len(problems), TIME_COLUMNS)
    bands = int(np.ceil(len(problems) / cols))  # each band: ELBO row over quality row
    fig, axes = plt.subplots(2 * bands, cols, figsize=(4.2 * cols, 6.8 * bands), squeeze=False)
    for k in range(len(problems), bands * cols):  # empty places in the last band
        axes[2 * (k // cols), k % cols].set_visible(False)
        axes[2 * (k // cols) + 1, k % cols].set_visible(False)
    for j, problem in enumerate(problems):
        top, ax = axes[2 * (j // cols), j % cols], axes[2 * (j // cols) + 1, j % cols]
        _elbo_panel(top, vi[vi["problem"] == problem], traces, table, per_second=True)
        top.set_title(problem)
        rows = ok[(ok["problem"] == problem) & ok["record_id"].isin(list(checkpoints))]
        for method, group in rows.groupby("method"):
            for i, record_id in enumerate(group["record_id"]):
                arrays = checkpoints[int(record_id)]
                ax.plot(
                    arrays["checkpoint_run_s"],
                    arrays["checkpoint_quality"],
                    marker="o",
                    ms=2.5,
                    lw=1,
                    alpha=0.8,
                    color=_colour(method, table),
                    label=method if i == 0 else None,
                )
        ax.set(xscale="log", xlabel="run time (s, pro rata)", ylabel=_quality(problem)[1])
        _quiet_log_ticks(ax.xaxis)
        if len(rows):
            ax.legend(fontsize=LEGEND_SIZE)
    fig.tight_layout()
    return {"time": fig}


def _colour(method: str, table: pd.DataFrame):
    """One colour per method across every panel: tab10's ten hues, which stay apart for the colour
    blind and in print; past ten methods the hues repeat with another marker (`_marker`)."""
    methods = sorted(table["method"].unique())
    return plt.get_cmap("tab10")(methods.index(method) % 10)


def _marker(method: str, table: pd.DataFrame) -> str:
    methods = sorted(table["method"].unique())
    return ("o", "s", "^", "D")[(methods.index(method) // 10) % 4]


def pareto_front(x: np.ndarray, y: np.ndarray, lower_is_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points no other point beats on both cost (x, lower better) and quality (y)."""
    order = np.argsort(x, kind="stable")
    front_x, front_y, best = [], [], np.inf
    for i in order:
        quality = y[i] if lower_is_better else -y[i]
        if quality < best:
            best = quality
            front_x.append(x[i])
            front_y.append(y[i])
    return np.array(front_x), np.array(front_y)


def cost_accuracy(store: Path, table: pd.DataFrame) -> dict[str, plt.Figure]:
    """Quality against run time (top) and gradient evaluations (bottom), one point per seed."""
    ok = _ok(table)
    problems = [p for p in sorted(ok["problem"].unique()) if _quality(p)[0] in ok]
    problems = [p for p in problems if ok.loc[ok["problem"] == p, _quality(p)[0]].notna().any()]
    if not problems:
        return {}
    fig, axes = plt.subplots(2, len(problems), figsize=(4.2 * len(problems), 6.4), squeeze=False)
    for j, problem in enumerate(problems):
        metric, label, lower = _quality(problem)
        rows = ok[(ok["problem"] == problem) & ok[metric].notna()]
        for i, cost in enumerate(("run_s", "grad_evals")):
            ax = axes[i, j]
            have = rows[rows[cost].notna()] if cost in rows else rows.iloc[0:0]
            for method, group in have.groupby("method"):
                ax.scatter(
                    group[cost],
                    group[metric],
                    s=28,
                    label=method,
                    color=_colour(method, table),
                    marker=_marker(method, table),
                )
            if len(have):
                fx, fy = pareto_front(have[cost].to_numpy(float), have[metric].to_numpy(float), lower)
                ax.step(fx, fy, where="post", color="black", lw=1, ls="--", label="Pareto front")
                ax.set_xscale("log")
                _quiet_log_ticks(ax.xaxis)
            ax.set(
                title=problem if i == 0 else "",
                xlabel="run time (s)" if cost == "run_s" else "gradient evaluations",
                ylabel=label,
            )
            if len(have):
                ax.legend(fontsize=LEGEND_SIZE)
    fig.tight_layout()
    return {"cost": fig}


def toy_densities(store: Path, table: pd.DataFrame) -> dict[str, plt.Figure]:
    """Each method's marginal (1-D) or joint (2-D) draws over the exact posterior density (the
    spec's own log joint on a grid, normalised), every panel of a problem on the same axes."""
    ok = _ok(table)
    figures = {}
    for problem_name in sorted(ok["problem"].unique()):
        problem = suites.get_problem(problem_name)
        if problem.task != "density" or problem.reference is None:
            continue
        if sum(max(1, int(np.prod(s))) for s in problem.scored_shapes().values()) > 2:
            figures.update(worst_marginals(store, ok, problem))
            continue
        rows = ok[ok["problem"] == problem_name].drop_duplicates("method")
        data = problem.make_data(int(rows["seed"].iloc[0]))
        reference = problem.reference(data)
        exact = reference.draws(np.random.default_rng(0), 20_000)
        names = [lat.name for lat in problem.latents if lat.size == 1]
        drawn = {
            row["method"]: load_arrays(store, int(row["record_id"]), prefix="draws:") for _, row in rows.iterrows()
        }
        fig, axes = _grid(len(rows), 3.8, 3.4)
        label = f"exact ({reference.kind})"
        if len(names) == 1:
            (name,) = names
            low, high = axis_limits(exact[name])
            grid = np.linspace(low, high, 400)
            density = _exact_density(problem, data, {name: grid}, grid[1] - grid[0])
            peak = max(density.max(), 1e-12)
            for ax, (_, row) in zip(axes, rows.iterrows()):
                ax.fill_between(grid, density, color="0.8", label=label)
                values = drawn[row["method"]].get(f"draws:{name}")
                if values is not None:
                    inside = values.ravel()[(values.ravel() >= low) & (values.ravel() <= high)]
                    ax.hist(
                        inside,
                        bins=np.linspace(low, high, 61),
                        density=True,
                        histtype="step",
                        lw=1.5,
                        color=_colour(row["method"], table),
                        label=row["method"],
                    )
                ax.set(xlim=(low, high), ylim=(0, 1.6 * peak), xlabel=name, ylabel="density")
                ax.set_title(row["method"], fontsize=9)
                ax.legend(fontsize=LEGEND_SIZE)
        else:
            x, y = names[:2]
            (x_low, x_high), (y_low, y_high) = axis_limits(exact[x]), axis_limits(exact[y])
            gx, gy = np.meshgrid(np.linspace(x_low, x_high, 120), np.linspace(y_low, y_high, 120))
            cell = (gx[0, 1] - gx[0, 0]) * (gy[1, 0] - gy[0, 0])
            density = _exact_density(problem, data, {x: gx.ravel(), y: gy.ravel()}, cell).reshape(gx.shape)
            levels = _mass_levels(density)
            for ax, (_, row) in zip(axes, rows.iterrows()):
                arrays = drawn[row["method"]]
                if f"draws:{x}" in arrays:
                    ax.scatter(
                        arrays[f"draws:{x}"][:600, 0],
                        arrays[f"draws:{y}"][:600, 0],
                        s=3,
                        alpha=0.5,
                        color=_colour(row["method"], table),
                        label=row["method"],
                    )
                ax.contour(gx, gy, density, levels=levels, colors="black", linewidths=0.9)
                ax.plot([], [], color="black", lw=0.9, label=f"{label}: 50/90/99% regions")
                ax.set(xlim=(x_low, x_high), ylim=(y_low, y_high), xlabel=x, ylabel=y)
                ax.set_title(row["method"], fontsize=9)
                ax.legend(fontsize=LEGEND_SIZE, loc="upper right")
        fig.suptitle(problem_name)
        fig.tight_layout()
        figures[f"densities_{problem_name}"] = fig
    return figures


def axis_limits(values: np.ndarray) -> tuple[float, float]:
    """The reference's 0.25-99.75% range with a 15% margin: the same axes for every panel, wide
    enough that the reference is never clipped."""
    low, high = np.percentile(values, [0.25, 99.75])
    margin = 0.15 * (high - low)
    return float(low - margin), float(high + margin)


def _exact_density(problem, data, points: dict[str, np.ndarray], cell: float) -> np.ndarray:
    """exp(spec log joint) on the points, normalised to integrate to one over them."""
    n = len(next(iter(points.values())))
    logp = np.array([problem.log_joint({k: np.array(v[i]) for k, v in points.items()}, data) for i in range(n)])
    logp = np.where(np.isfinite(logp), logp, -np.inf)
    density = np.exp(logp - logp.max())
    return density / (density.sum() * cell)


def _mass_levels(density: np.ndarray) -> list[float]:
    """Density levels enclosing 99%, 90% and 50% of the mass (increasing, as contour wants)."""
    ordered = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(ordered) / ordered.sum()
    levels = sorted({float(ordered[min(np.searchsorted(cumulative, q), len(ordered) - 1)]) for q in (0.99, 0.9, 0.5)})
    return [level for level in levels if level > 0] or [float(ordered[0]) / 2]


def _component_errors(store: Path, record_ids: list[int]) -> pd.DataFrame:
    return component_metrics(store, "std_mean_err", record_ids)


def _column(component: str, shapes: dict[str, tuple[int, ...]]) -> tuple[str, int]:
    """'beta[2]' -> ('beta', 2): the array and the column its figure draws hold it in."""
    name, _, index = component.partition("[")
    if not index:
        return name, 0
    return name, int(np.ravel_multi_index(tuple(int(i) for i in index.rstrip("]").split(",")), shapes[name]))


FAR_OFF = 20.0  # a method's range this many reference widths from the reference's: kept off the axis, noted


def marginal_axis(reference: np.ndarray, values: np.ndarray | None) -> tuple[float, float, str]:
    """(low, high, note) of one worst-component panel: the reference's range, widened to the method's
    (the same `axis_limits`) unless that reaches FAR_OFF reference widths away (then both would be invisible: a
    spike beside a flat line); the note says how many of the method's draws the axis leaves out."""
    low, high = axis_limits(reference)
    if values is None or not len(values):
        return low, high, ""
    v_low, v_high = axis_limits(values)
    if max(high, v_high) - min(low, v_low) <= FAR_OFF * (high - low):
        low, high = min(low, v_low), max(high, v_high)
    outside = float(np.mean((values < low) | (values > high)))
    if outside < 0.01:
        return low, high, ""
    return low, high, f"{outside:.0%} of draws off the axis (median {np.median(values):.3g})"


def worst_marginals(store: Path, ok: pd.DataFrame, problem) -> dict[str, plt.Figure]:
    """Many-parameter references (posteriordb): per method, the marginal of the component any method
    gets worst (largest standardised mean error) over the reference's draws of it."""
    rows = ok[ok["problem"] == problem.name].drop_duplicates("method")
    errors = _component_errors(store, [int(r) for r in rows["record_id"]])
    if errors.empty:
        return {}
    worst = errors.groupby("component")["value"].max().idxmax()
    shapes = problem.scored_shapes()
    name, col = _column(worst, shapes)
    reference = problem.reference(problem.make_data(int(rows["seed"].iloc[0])))
    exact = np.asarray(reference.draws(np.random.default_rng(0), 20_000)[name]).reshape(
        -1, max(1, int(np.prod(shapes[name])))
    )
    fig, axes = _grid(len(rows), 3.6, 3.2)
    for ax, (_, row) in zip(axes, rows.iterrows()):
        values = load_arrays(store, int(row["record_id"])).get(f"draws:{name}")
        values = None if values is None else np.asarray(values[:, col], dtype=np.float64)
        low, high, note = marginal_axis(exact[:, col], values)
        bins = np.linspace(low, high, 61)  # the same bins for both: widths comparable, neither a hairline
        ax.hist(exact[:, col], bins=bins, density=True, color="0.75", label=f"reference ({reference.kind})")
        if values is not None:  # the density of all the draws: those off the axis keep their share
            inside = values[(values >= low) & (values <= high)]
            ax.hist(
                inside,
                bins=bins,
                weights=np.full(len(inside), 1.0 / (len(values) * (bins[1] - bins[0]))),
                histtype="step",
                lw=1.5,
                color=_colour(row["method"], ok),
                label=row["method"],
            )
        err = errors[errors["record_id"] == row["record_id"]].set_index("component")["value"].get(worst, np.nan)
        ax.set(xlim=(low, high), xlabel=worst, ylabel="density")
        ax.set_title(f"{row['method']} (mean err {err:.2g} sd)" + (f"\n{note}" if note else ""), fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{problem.name}\nworst component {worst}", fontsize=10)
    fig.tight_layout()
    return {f"densities_{problem.name}": fig}


def _reference_surface(references: Path, problem_name: str, seed: int):
    from bench.references import store as reference_store

    stored = reference_store.find(references, problem_name, seed)
    if stored is None:
        return None, None
    predictions = reference_store.load_idata(stored).predictions
    if "grid_mean" not in predictions:
        return None, None
    arrays = {k: predictions[k].values for k in ("grid_mean", "grid_low", "grid_high")}
    return arrays, f"reference ({stored.provenance['sampler']}, {stored.verdict})"


def network_surfaces(store: Path, table: pd.DataFrame, references: Path) -> dict[str, plt.Figure]:
    """2-D inputs: posterior-mean probability and 94% interval width over the grid, with the
    training data, per method and for the reference. 1-D inputs: the predictive band and the truth."""
    ok = _ok(table)
    figures = {}
    for problem_name in sorted(ok["problem"].unique()):
        problem = suites.get_problem(problem_name)
        if problem.grid is None:
            continue
        rows = ok[ok["problem"] == problem_name].drop_duplicates("method")
        seed = int(rows["seed"].iloc[0])
        panels = [(row["method"], load_arrays(store, int(row["record_id"]))) for _, row in rows.iterrows()]
        panels = [(label, arrays) for label, arrays in panels if "grid_mean" in arrays]
        ref_arrays, ref_label = _reference_surface(references, problem_name, seed)
        if ref_arrays is not None:
            panels.append((ref_label, ref_arrays))
        if not panels:
            continue
        grid, train = problem.grid(), problem.make_data(seed).train
        if grid.shape[1] == 2:
            figures[f"surfaces_{problem_name}"] = _surface_figure(problem_name, grid, train, panels)
        else:
            figures[f"surfaces_{problem_name}"] = _band_figure(problem_name, grid[:, 0], train, panels)
    return figures


def _surface_figure(name, grid, train, panels):
    n = int(round(np.sqrt(len(grid))))
    gx, gy = grid[:, 0].reshape(n, n), grid[:, 1].reshape(n, n)
    fig, axes = plt.subplots(len(panels), 2, figsize=(8.4, 3.4 * len(panels)), squeeze=False)
    for (label, arrays), (ax_mean, ax_width) in zip(panels, axes):
        mean = np.asarray(arrays["grid_mean"]).reshape(n, n)
        width = (np.asarray(arrays["grid_high"]) - np.asarray(arrays["grid_low"])).reshape(n, n)
        c0 = ax_mean.contourf(gx, gy, mean, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
        c1 = ax_width.contourf(gx, gy, width, levels=np.linspace(0, 1, 11), cmap="viridis")
        for ax, cs, what in ((ax_mean, c0, "posterior-mean probability"), (ax_width, c1, "94% interval width")):
            ax.scatter(
                train.x[:, 0],
                train.x[:, 1],
                c=train.y,
                cmap="RdBu_r",
                s=4,
                edgecolor="k",
                linewidth=0.2,
                label="training data (colour: class)",
            )
            ax.set_title(f"{label}: {what}", fontsize=9)
            ax.set(xlabel="$x_1$", ylabel="$x_2$")
            ax.legend(fontsize=LEGEND_SIZE, loc="lower left")
            ax.figure.colorbar(cs, ax=ax, label=what)
    fig.suptitle(name)
    fig.tight_layout()
    return fig


def _band_figure(name, x, train, panels):
    fig, axes = _grid(len(panels), 4.2, 3.2)
    for ax, (label, arrays) in zip(axes, panels):
        ax.fill_between(x, arrays["grid_low"], arrays["grid_high"], alpha=0.3, label="94% interval")
        ax.plot(x, arrays["grid_mean"], lw=1.5, label="posterior mean")
        ax.plot(x, np.sin(x), "k--", lw=1, label="sin(x)")
        ax.scatter(train.x[:, 0], train.y, s=10, color="k", label="data")
        ax.set(title=label, xlabel="x", ylabel="f(x)")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=LEGEND_SIZE)
    fig.suptitle(name)
    fig.tight_layout()
    return fig


def auc_distributions(store: Path, table: pd.DataFrame, references: Path) -> dict[str, plt.Figure]:
    """Per-draw test AUCs by method (and for the reference), per classification problem."""
    from bench.references import store as reference_store
    from bench.scoring.predictive import auc_rows

    ok = _ok(table)
    figures = {}
    for problem_name in sorted(ok["problem"].unique()):
        problem = suites.get_problem(problem_name)
        if problem.task != "classification":
            continue
        rows = ok[ok["problem"] == problem_name].drop_duplicates("method")
        series = [
            (row["method"], load_arrays(store, int(row["record_id"])).get("auc_draws")) for _, row in rows.iterrows()
        ]
        series = [(label, values) for label, values in series if values is not None]
        seed = int(rows["seed"].iloc[0])
        stored = reference_store.find(references, problem_name, seed)
        if stored is not None:
            draws = reference_store.load_idata(stored).predictions["test_draws"].values
            series.append((f"reference ({stored.verdict})", auc_rows(problem.make_data(seed).test.y, draws)))
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(series), 3.4))
        parts = ax.violinplot([np.asarray(v, float) for _, v in series], showmedians=True)
        for body, (label, _) in zip(parts["bodies"], series):
            colour = _colour(label, table) if label in set(table["method"]) else "0.5"
            body.set_facecolor(colour)
            body.set_label(label)
        ax.set_xticks(range(1, len(series) + 1), [label for label, _ in series], rotation=25, ha="right", fontsize=8)
        ax.set(title=f"{problem_name}: AUC of each posterior draw", ylabel="test AUC", xlabel="method")
        ax.legend(fontsize=LEGEND_SIZE, loc="lower left")
        fig.tight_layout()
        figures[f"auc_{problem_name}"] = fig
    return figures


def make_figures(store: Path, table: pd.DataFrame, kinds, references: Path) -> dict[str, plt.Figure]:
    from bench.reporting import plots_accuracy, plots_scale
    from bench.studies import scale

    study, table = scale.split_study(
        table
    )  # the scale study's rows have their own figure (bench.reporting.plots_scale)
    makers = {
        "scale": lambda: plots_scale.figures(study),
        "elbo": lambda: elbo_traces(store, table),
        "time": lambda: time_to_accuracy(store, table),
        "cost": lambda: cost_accuracy(store, table),
        "accuracy": lambda: plots_accuracy.figures(store, table),
        "densities": lambda: toy_densities(store, table),
        "surfaces": lambda: network_surfaces(store, table, references),
        "auc": lambda: auc_distributions(store, table, references),
    }
    figures: dict[str, plt.Figure] = {}
    for kind in kinds:
        figures.update(makers[kind]())
    return figures
