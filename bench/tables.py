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

from bench.report import fmt

# (metric, header, best): "max", "min", or a target value the best is closest to.
TASK_COLUMNS: dict[str, tuple[tuple[str, str, object], ...]] = {
    "density": (("elbo", "ELBO", "max"), ("khat", "k-hat", "min"), ("std_mean_err_max", "mean err", "min"),
                ("sd_ratio_min", "sd ratio", 1.0), ("w1_max", "W1", "min"), ("run_s", "time (s)", "min")),
    "classification": (("auc", "AUC", "max"), ("accuracy", "accuracy", "max"), ("lpd", "LPD", "max"),
                       ("ece", "ECE", "min"), ("ref_agreement", "ref agree", "min"), ("run_s", "time (s)", "min")),
    "regression": (("rmse", "RMSE", "min"), ("lpd", "LPD", "max"), ("coverage_90", "cover90", 0.9),
                   ("ref_agreement", "ref agree", "min"), ("run_s", "time (s)", "min")),
}  # fmt: skip
MCMC_COLUMNS = (("ess_per_s", "ESS/s", "max"), ("r_hat_max", "R-hat", 1.0))
# Suites whose table differs from their task's: posteriordb reports what the VI papers do.
SUITE_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str, object], ...]] = {
    ("posteriordb", "density"): (("std_mean_err_max", "max mean err", "min"), ("std_mean_err_mean", "mean mean err", "min"),
                                 ("sd_ratio_min", "min sd ratio", 1.0), ("w1_sd_max", "max W1 (sd)", "min"),
                                 ("elbo", "ELBO", "max"), ("khat", "k-hat", "min"), ("grad_evals", "grad evals", "min"),
                                 ("run_s", "time (s)", "min")),
}  # fmt: skip
TASK_TITLES = {"density": "parameter recovery", "classification": "classification", "regression": "regression"}


@dataclass
class Cell:
    mean: float | None
    sd: float | None
    best: bool = False


@dataclass
class PaperTable:
    suite: str
    task: str
    headers: list[str]  # metric headers, in order
    rows: list[tuple[str, str, str, list[Cell]]]  # (problem, method, status text, cells)

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


def _is_better(a: float, b: float, best: object) -> bool:
    if best == "max":
        return a > b
    if best == "min":
        return a < b
    return abs(a - float(best)) < abs(b - float(best))


def build_tables(table: pd.DataFrame, problem_tasks: dict[str, str]) -> list[PaperTable]:
    """Aggregate the latest records (one row per cell) into one PaperTable per (suite, task)."""
    tables = []
    table = table.assign(task=table["problem"].map(problem_tasks))
    for column in ("device", "dtype"):  # rows measured on different devices or dtypes stay apart
        if column in table and table[column].nunique() > 1:
            table = table.assign(method=table["method"] + " [" + table[column].astype(str) + "]")
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
                cells.append(Cell(mean, sd))
            rows.append((problem, method, _status_text(group), cells))
        for j, (_, _, best) in enumerate(columns):
            for problem in {r[0] for r in rows}:
                members = [r[3][j] for r in rows if r[0] == problem and r[3][j].mean is not None]
                if len(members) < 2:
                    continue
                winner = members[0].mean
                for cell in members[1:]:
                    if _is_better(cell.mean, winner, best):
                        winner = cell.mean
                for cell in members:
                    cell.best = math.isclose(cell.mean, winner, rel_tol=1e-12, abs_tol=0.0)
        tables.append(PaperTable(str(suite), str(task), [c[1] for c in columns], rows))
    return tables


def sd_text(sd: float) -> str:
    """Two significant digits: the spread over seeds is itself uncertain."""
    return f"{sd:.2g}"


def cell_text(cell: Cell) -> str:
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


def _latex_cell(cell: Cell) -> str:
    if cell.mean is None:
        return "--"
    body = fmt(cell.mean) + (rf" \pm {sd_text(cell.sd)}" if cell.sd is not None else "")
    return rf"$\mathbf{{{body}}}$" if cell.best else f"${body}$"


def to_latex(tables: list[PaperTable]) -> str:
    """Booktabs tables via pandas' Styler, problems as row groups (named on their first row); needs booktabs."""
    parts = ["% bench report: needs \\usepackage{booktabs} in the preamble"]
    for t in tables:
        frame = _frame(t, _latex_cell, latex_escape)
        styler = frame.style
        parts.append(styler.to_latex(
            hrules=True, multirow_align="naive", clines="skip-last;data", position="htbp", position_float="centering",
            caption=latex_escape(f"{t.title} (mean ± sd over seeds; best per problem in bold)").replace("±", r"$\pm$"),
            column_format="ll" + "r" * len(t.headers) + "l",
        ))  # fmt: skip
    return "\n".join(parts)


def _html_cell(cell: Cell) -> str:
    text = html.escape(cell_text(cell))
    return f"<strong>{text}</strong>" if cell.best else text


def to_html_tables(tables: list[PaperTable]) -> str:
    parts = []
    for t in tables:
        frame = _frame(t, _html_cell, html.escape)
        parts.append(f"<h2>{html.escape(t.title)}</h2>")
        parts.append(frame.style.to_html(table_attributes='class="bench"'))
    return "\n".join(parts)
