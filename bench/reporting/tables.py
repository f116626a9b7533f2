"""Comparison tables for papers and pull requests: one table per suite and task.

Problems are row groups and methods rows; each cell is the mean ± sd over seeds of the ok
records; the best value of each column within a problem is marked (bold); a method whose cells
failed or were unsupported keeps its row with the status and reason, never dropped. The same
layout renders to Markdown, LaTeX (pandas' Styler, booktabs rules) and HTML.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.scoring.metrics import METRICS
from bench.reporting.report import fmt


def _columns(*names: str) -> tuple[tuple[str, str, object], ...]:
    """(metric, header, best) from the catalogue: best is "max", "min", or a target value."""
    return tuple((name, METRICS[name].header, METRICS[name].best) for name in names)


TASK_COLUMNS: dict[str, tuple[tuple[str, str, object], ...]] = {
    "density": _columns("elbo", "khat", "std_mean_err_max", "sd_ratio_min", "w1_max", "run_s"),
    "classification": _columns("auc", "accuracy", "lpd", "ece", "ref_agreement", "run_s"),
    "regression": _columns("rmse", "lpd", "coverage_90", "ref_agreement", "run_s"),
}
MCMC_COLUMNS = _columns("ess_per_s", "r_hat_max")
# Suites whose table differs from their task's: posteriordb reports what the VI papers do.
SUITE_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str, object], ...]] = {
    ("posteriordb", "density"): (("std_mean_err_max", "max mean err", "min"), ("std_mean_err_mean", "mean mean err", "min"),
                                 ("sd_ratio_min", "min sd ratio", 1.0), ("w1_sd_max", "max W1 (sd)", "min"),
                                 ("elbo", "ELBO", "max"), ("khat", "k-hat", None), ("grad_evals", "grad evals", "min"),
                                 ("run_s", "time (s)", "min")),
}  # fmt: skip
TASK_TITLES = {"density": "parameter recovery", "classification": "classification", "regression": "regression"}


KHAT_FLAG = 0.7  # PSIS: above it the importance weights are unreliable
# The metric whose per-record standard error is stored beside it (its name + "_se").
STANDARD_ERRORS = {"elbo": "elbo_se"}


@dataclass
class Entry:
    """One table entry: a metric's mean and sd over seeds (not a run cell, bench.records.cells.Cell)."""
    mean: float | None
    sd: float | None  # spread over seeds (None with one seed)
    best: bool = False
    se: float | None = None  # standard error of the mean where the metric has one (ELBO)
    flagged: bool = False  # a diagnostic past its threshold (k-hat > 0.7)

    def spread(self) -> float:
        return max(self.sd or 0.0, self.se or 0.0)


@dataclass
class PaperTable:
    suite: str
    task: str
    headers: list[str]  # metric headers, in order
    rows: list[tuple[str, str, str, list[Entry]]]  # (problem, method, status text, cells)

    @property
    def title(self) -> str:
        return f"{self.suite}: {TASK_TITLES.get(self.task, self.task)}"


def _status_text(group: pd.DataFrame) -> str:
    statuses = group["status"].tolist()
    reasons = [str(r) for r in group["reason"].fillna("") if r]
    if all(s == "ok" for s in statuses):
        return "ok" + (f" ({reasons[0]})" if reasons else "")
    bad = [s for s in statuses if s != "ok"]
    text = bad[0] if len(set(bad)) == 1 else "/".join(sorted(set(bad)))
    if len(bad) < len(statuses):
        text += f" in {len(bad)} of {len(statuses)} seeds"
    return text + (f": {reasons[0]}" if reasons else "")


def build_tables(table: pd.DataFrame, problem_tasks: dict[str, str]) -> list[PaperTable]:
    """Aggregate the latest records (one row per cell) into one PaperTable per (suite, task)."""
    tables = []
    table = table.assign(task=table["problem"].map(problem_tasks))
    for column in ("device", "dtype", "threads"):  # rows measured on different devices, dtypes or threads stay apart
        if column in table and table[column].nunique() > 1:
            label = table[column].astype(str) if column != "threads" else "threads=" + table[column].astype("Int64").astype(str)
            table = table.assign(method=table["method"] + " [" + label + "]")
    for (suite, task), part in table.groupby(["suite", "task"], sort=True):
        wanted = SUITE_COLUMNS.get((suite, task), TASK_COLUMNS.get(task, ())) + MCMC_COLUMNS
        columns = [c for c in wanted if c[0] in part and part[c[0]].notna().any()]
        rows = []
        for (problem, method), group in part.groupby(["problem", "method"], sort=True):
            ok = group[group["status"] == "ok"]
            cells = []
            for metric, _, _ in columns:
                values = ok[metric].dropna().to_numpy(dtype=float) if metric in ok else np.array([])
                mean = float(values.mean()) if len(values) else None
                sd = float(values.std(ddof=1)) if len(values) > 1 else None
                se_name = STANDARD_ERRORS.get(metric)
                ses = ok[se_name].dropna().to_numpy(dtype=float) if se_name and se_name in ok else np.array([])
                se = float(np.sqrt(np.mean(ses**2) / len(ses))) if len(ses) else None
                flagged = metric == "khat" and mean is not None and mean > KHAT_FLAG
                cells.append(Entry(mean, sd, se=se, flagged=flagged))
            rows.append((problem, method, _status_text(group), cells))
        for j, (_, _, best) in enumerate(columns):
            if best is None:
                continue
            for problem in {r[0] for r in rows}:
                _mark_best([r[3][j] for r in rows if r[0] == problem and r[3][j].mean is not None], best)
        tables.append(PaperTable(str(suite), str(task), [c[1] for c in columns], rows))
    return tables


def _mark_best(members: list[Entry], best: object) -> None:
    """Bold the winner only where it is distinguishable: it prints differently from the runner-up,
    and the gap is larger than the spread over seeds or the standard error of either."""
    if len(members) < 2:
        return
    ranked = sorted(members, key=lambda c: _badness(c.mean, best))
    winner, runner_up = ranked[0], ranked[1]
    gap = abs(_badness(runner_up.mean, best) - _badness(winner.mean, best))
    if fmt(winner.mean) == fmt(runner_up.mean) or gap <= max(winner.spread(), runner_up.spread()):
        return
    for cell in members:
        cell.best = math.isclose(cell.mean, winner.mean, rel_tol=1e-12, abs_tol=0.0)


def _badness(value: float, best: object) -> float:
    if best == "max":
        return -value
    if best == "min":
        return value
    return abs(value - float(best))


def sd_text(sd: float) -> str:
    """Two significant digits: the spread over seeds is itself uncertain."""
    return f"{sd:.2g}"


def cell_text(cell: Entry) -> str:
    if cell.mean is None:
        return ""
    return fmt(cell.mean) + (f" ± {sd_text(cell.sd)}" if cell.sd is not None else "")


def to_markdown(tables: list[PaperTable]) -> str:
    out = []
    for t in tables:
        headers = ["problem", "method", *t.headers, "status"]
        out += [f"### {t.title}", "", "| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for problem, method, status, cells in t.rows:
            texts = [f"**{cell_text(c)}**" if c.best else cell_text(c) for c in cells]
            out.append("| " + " | ".join([problem, method, *texts, status]).replace("\n", " ") + " |")
        out.append("")
    return "\n".join(out)


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def _frame(t: PaperTable, render_cell, render_text) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples([(render_text(p), render_text(m)) for p, m, _, _ in t.rows], names=["problem", "method"])
    data = [[render_cell(c) for c in cells] + [render_text(status)] for _, _, status, cells in t.rows]
    return pd.DataFrame(data, index=index, columns=[render_text(h) for h in t.headers] + ["status"])


LATEX_SIGNIFICANT = 3  # one rule for every number in a LaTeX table (the spread gets 2)


def latex_number(value: float, digits: int = LATEX_SIGNIFICANT) -> str:
    """A number in LaTeX math with `digits` significant figures: 5.6e-05 -> 5.6\times10^{-5}."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else latex_escape(str(value))
    mantissa, _, power = f"{value:.{digits - 1}e}".partition("e")
    exponent = int(power)  # after rounding: 0.99996 counts as 1.00
    if -3 <= exponent < digits + 2:  # plain notation
        return f"{value:.{max(0, digits - 1 - exponent)}f}"
    mantissa = mantissa.rstrip("0").rstrip(".")
    return rf"{mantissa}\times10^{{{exponent}}}"


def _latex_cell(cell: Entry) -> str:
    if cell.mean is None:
        return "--"
    body = latex_number(cell.mean) + (rf" \pm {latex_number(cell.sd, 2)}" if cell.sd is not None else "")
    if cell.best:
        body = rf"\mathbf{{{body}}}"
    if cell.flagged:
        body += r"^{\dagger}"
    return f"${body}$"


def _latex_label(t: PaperTable) -> str:
    return "tab:bench-" + "-".join("".join(ch if ch.isalnum() else "-" for ch in part) for part in (t.suite, t.task))


def _chosen_columns(t: PaperTable, columns: list[str] | None) -> list[int]:
    if not columns:
        return list(range(len(t.headers)))
    wanted = {c.lower() for c in columns}
    metric_of = {h: m for spec in (*TASK_COLUMNS.values(), MCMC_COLUMNS) for m, h, _ in spec}
    return [i for i, h in enumerate(t.headers) if h.lower() in wanted or metric_of.get(h, "").lower() in wanted]


def latex_columns_known() -> list[str]:
    """Every metric a `--columns` list may name (metric names or their headers)."""
    return sorted({m for spec in (*TASK_COLUMNS.values(), MCMC_COLUMNS) for m, _, _ in spec})


def to_latex(tables: list[PaperTable], columns: list[str] | None = None, landscape: bool = False) -> str:
    """Booktabs tables that fit the page: written out directly (no double rules, numbers in math
    with one significant-figure rule), each scaled down by adjustbox only if wider than the line;
    a constant `ok` status column is dropped, failures are kept as notes under their table."""
    packages = "booktabs, adjustbox" + (", rotating" if landscape else "")
    parts = [f"% bench report: needs \\usepackage{{{packages}}} in the preamble"]
    float_env = "sidewaystable" if landscape else "table"
    width = r"\textheight" if landscape else r"\linewidth"
    for t in tables:
        keep = _chosen_columns(t, columns)
        statuses = [status for _, _, status, _ in t.rows]
        show_status = any(status != "ok" for status in statuses)
        headers = ["problem", "method"] + [latex_escape(t.headers[i]) for i in keep] + (["status"] if show_status else [])
        lines = [rf"\begin{{{float_env}}}[htbp]", r"\centering",
                 rf"\caption{{{latex_escape(t.title)} (mean $\pm$ sd over seeds; bold: best per problem where distinguishable)}}",
                 rf"\label{{{_latex_label(t)}}}", rf"\begin{{adjustbox}}{{max width={width}}}",
                 rf"\begin{{tabular}}{{ll{'r' * len(keep)}{'l' if show_status else ''}}}", r"\toprule",
                 " & ".join(headers) + r" \\", r"\midrule"]  # fmt: skip
        notes, flagged, previous = [], False, None
        for problem, method, status, cells in t.rows:
            if previous is not None and problem != previous:
                lines.append(r"\midrule")
            row = [latex_escape(problem) if problem != previous else "", latex_escape(method)]
            row += [_latex_cell(cells[i]) for i in keep]
            flagged |= any(cells[i].flagged for i in keep)
            if show_status:
                short = status.split(":", 1)[0]
                row.append(latex_escape(short))
                if ":" in status:
                    notes.append(f"{latex_escape(method)} on {latex_escape(problem)}: {latex_escape(status)}")
            lines.append(" & ".join(row) + r" \\")
            previous = problem
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}"]
        if flagged:
            notes.insert(0, r"$^{\dagger}$ PSIS $\hat k > 0.7$: importance weights unreliable")
        if notes:
            lines.append(r"\par\smallskip\footnotesize " + r" \par ".join(notes))
        lines.append(rf"\end{{{float_env}}}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _html_cell(cell: Entry) -> str:
    text = html.escape(cell_text(cell))
    return f"<strong>{text}</strong>" if cell.best else text


def to_html_tables(tables: list[PaperTable]) -> str:
    parts = []
    for t in tables:
        frame = _frame(t, _html_cell, html.escape)
        parts.append(f"<h2>{html.escape(t.title)}</h2>")
        parts.append(frame.style.to_html(table_attributes='class="bench"'))
    return "\n".join(parts)
