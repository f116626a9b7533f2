"""Comparison tables for papers and pull requests: one table per suite and task.

Problems are row groups and methods rows; each cell is the mean ± sd over seeds of the ok
records; the best value of each column within a problem is marked (bold); a method whose cells
failed or were unsupported keeps its row with the status and reason, never dropped. The same
layout renders to Markdown, LaTeX (pandas' Styler, booktabs rules) and HTML.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.scoring.metrics import FLAGS, METRICS, STANDARD_ERRORS, UNITS, Flag
from bench.reporting import report as reports
from bench.reporting.report import fmt


def _columns(*names: str) -> tuple[tuple[str, str, object], ...]:
    """(metric, header, best) from the catalogue: best is "max", "min", or a target value."""
    return tuple((name, METRICS[name].header, METRICS[name].best) for name in names)


TASK_COLUMNS: dict[str, tuple[tuple[str, str, object], ...]] = {
    "density": _columns("elbo", "khat", "std_mean_err_max", "sd_ratio_min", "sd_ratio_max", "w1_max", "run_s"),
    "classification": _columns("auc", "accuracy", "lpd", "ece", "ref_agreement", "run_s"),
    "regression": _columns("rmse", "lpd", "coverage_90", "ref_agreement", "run_s"),
}
MCMC_COLUMNS = _columns("ess_per_s", "r_hat_max")
# Suites whose table differs from their task's: posteriordb reports what the VI papers do.
SUITE_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str, object], ...]] = {
    ("posteriordb", "density"): _columns(
        "std_mean_err_max",
        "std_mean_err_mean",
        "sd_ratio_min",
        "sd_ratio_max",
        "w1_sd_max",
        "elbo",
        "khat",
        "grad_evals",
        "run_s",
    ),
}
TASK_TITLES = {"density": "parameter recovery", "classification": "classification", "regression": "regression"}

KHAT_FLAG = FLAGS["khat"].above  # PSIS: above it the importance weights are unreliable (the catalogue's rule)


@dataclass
class Entry:
    """One table entry: a metric's mean and sd over seeds (not a run cell, bench.records.cells.Cell)."""

    mean: float | None
    sd: float | None  # spread over seeds (None with one seed)
    best: bool = False
    se: float | None = None  # standard error of the mean where the metric has one (ELBO)
    flagged: bool = False  # a diagnostic past its threshold (k-hat > 0.7)
    flags: tuple[Flag, ...] = ()  # the catalogue's flags this entry raises (its marks)

    def spread(self) -> float:
        return max(self.sd or 0.0, self.se or 0.0)


@dataclass
class PaperTable:
    suite: str
    task: str
    headers: list[str]  # metric headers, in order
    rows: list[tuple[str, str, str, list[Entry]]]  # (problem, method, status text, cells)
    setting_names: list[str] = field(default_factory=list)  # settings shown beside the metrics (those that differ)
    row_settings: list[dict] = field(default_factory=list)  # each row's resolved settings
    row_flags: list[tuple[Flag, ...]] = field(
        default_factory=list
    )  # each row's own marks (not converged), on its status
    caption: str = ""  # how the table was made: protocol, step budget, seeds, units

    @property
    def title(self) -> str:
        return f"{self.suite}: {TASK_TITLES.get(self.task, self.task)}"

    @property
    def setting_headers(self) -> list[str]:
        return [reports.SETTING_HEADERS.get(n, n) for n in self.setting_names]

    def settings_cells(self, i: int) -> list[str]:
        values = self.row_settings[i] if i < len(self.row_settings) else {}
        return [reports.setting_text(values.get(n)) for n in self.setting_names]

    def marks(self, i: int) -> tuple[Flag, ...]:
        return self.row_flags[i] if i < len(self.row_flags) else ()

    def legend(self) -> list[Flag]:
        """The flags that appear in this table, in catalogue order."""
        used = {flag for i in range(len(self.rows)) for flag in self.marks(i)}
        used |= {flag for _, _, _, cells in self.rows for cell in cells for flag in cell.flags}
        return [flag for flag in FLAGS.values() if flag in used]


def _status_text(group: pd.DataFrame, unsettled: int = 0) -> str:
    """The row's status; an ok row whose fits did not all converge says so (in how many seeds)."""
    statuses = group["status"].tolist()
    reasons = [str(r) for r in group["reason"].fillna("") if r]
    if all(s == "ok" for s in statuses):
        if not unsettled:
            return "ok" + (f" ({reasons[0]})" if reasons else "")
        head = "not converged" + (f" in {unsettled} of {len(statuses)} seeds" if unsettled < len(statuses) else "")
        detail = next((r for r in reasons if r.startswith("not converged")), reasons[0] if reasons else "")
        detail = detail.removeprefix("not converged").lstrip(":; ")  # the verdict's own reason, said once
        return head + (f": {detail}" if detail else "")
    bad = [s for s in statuses if s != "ok"]
    text = bad[0] if len(set(bad)) == 1 else "/".join(sorted(set(bad)))
    if len(bad) < len(statuses):
        text += f" in {len(bad)} of {len(statuses)} seeds"
    return text + (f": {reasons[0]}" if reasons else "")


def build_tables(table: pd.DataFrame, problem_tasks: dict[str, str]) -> list[PaperTable]:
    """Aggregate the latest records (one row per cell: problem, method, settings, seed) into one
    PaperTable per (suite, task); rows of one method with different settings stay apart."""
    tables = []
    table = table.assign(task=table["problem"].map(problem_tasks))
    for column in ("device", "dtype", "threads"):  # rows measured on different devices, dtypes or threads stay apart
        if column in table and table[column].nunique() > 1:
            label = (
                table[column].astype(str)
                if column != "threads"
                else "threads=" + table[column].astype("Int64").astype(str)
            )
            table = table.assign(method=table["method"] + " [" + label + "]")
    table = table.assign(_settings=[json.dumps(v, sort_keys=True) for v in reports.settings_of(table)])
    for (suite, task), part in table.groupby(["suite", "task"], sort=True):
        wanted = SUITE_COLUMNS.get((suite, task), TASK_COLUMNS.get(task, ())) + MCMC_COLUMNS
        columns = [c for c in wanted if c[0] in part and part[c[0]].notna().any()]
        rows, row_settings, row_flags = [], [], []
        settings_shown = reports.differing_settings(part)
        groups = sorted(
            part.groupby(["problem", "method", "_settings"]),
            key=lambda item: (item[0][0], item[0][1], [_order(json.loads(item[0][2]).get(n)) for n in settings_shown]),
        )
        for (problem, method, settings), group in groups:
            ok = group[group["status"] == "ok"]
            cells = []
            for metric, _, _ in columns:
                values = ok[metric].dropna().to_numpy(dtype=float) if metric in ok else np.array([])
                mean = float(values.mean()) if len(values) else None
                sd = float(values.std(ddof=1)) if len(values) > 1 else None
                se_name = STANDARD_ERRORS.get(metric)
                ses = ok[se_name].dropna().to_numpy(dtype=float) if se_name and se_name in ok else np.array([])
                se = float(np.sqrt(np.mean(ses**2) / len(ses))) if len(ses) else None
                marks = (FLAGS[metric],) if metric in FLAGS and FLAGS[metric].applies(mean) else ()
                cells.append(Entry(mean, sd, se=se, flagged=bool(marks), flags=marks))
            # a flag that bars the row from best (not converged) marks the whole row, in its status
            own, unsettled = [], 0
            for name, flag in FLAGS.items():
                if name in ok and flag.excludes_best:
                    hits = sum(flag.applies(v) for v in ok[name])
                    if hits:
                        own.append(flag)
                        unsettled = hits
            rows.append((problem, method, _status_text(group, unsettled), cells))
            row_settings.append(json.loads(settings))
            row_flags.append(tuple(own))
        for j, (_, _, best) in enumerate(columns):
            if best is None:
                continue
            for problem in {r[0] for r in rows}:
                _mark_best(
                    [
                        r[3][j]
                        for i, r in enumerate(rows)
                        if r[0] == problem
                        and r[3][j].mean is not None
                        and not any(flag.excludes_best for flag in row_flags[i])
                    ],
                    best,
                )
        tables.append(
            PaperTable(
                str(suite),
                str(task),
                [c[1] for c in columns],
                rows,
                settings_shown,
                row_settings,
                row_flags,
                caption(part, columns, settings_shown),
            )
        )
    return tables


def _order(value: object) -> tuple:
    """A sort key for a setting's values: numbers by size, before text; absent last."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def caption(part: pd.DataFrame, columns, setting_names: list[str]) -> str:
    """How a table was made: the protocol, the step budget (and a sampler's draws), the seeds per
    row and the units of its columns."""
    settings = reports.settings_of(part)
    protocols = sorted({str(v["protocol"]) for v in settings if v.get("protocol")})
    parts = [("protocol " + ", ".join(protocols)) if protocols else "protocol not recorded"]
    steps = sorted({int(v["steps"]) for v in settings if v.get("steps") is not None})
    if steps:
        where = "see the steps column" if "steps" in setting_names else "by problem"
        parts.append(f"{steps[0]:,} steps" if len(steps) == 1 else f"{steps[0]:,}-{steps[-1]:,} steps ({where})")
    samplers = sorted(
        {
            (int(v["warmup"]), int(v["draws"]), int(v.get("chains", 1)))
            for v in settings
            if v.get("warmup") is not None and v.get("draws") is not None
        }
    )
    parts += [f"MCMC {w:,} warm-up + {d:,} draws x {c} chains" for w, d, c in samplers[:2]]
    if len(samplers) > 2:
        parts.append(f"and {len(samplers) - 2} more MCMC budgets")
    seeds = part.groupby(["problem", "method", "_settings"])["seed"].nunique() if "_settings" in part else part["seed"]
    low, high = int(seeds.min()), int(seeds.max())
    parts.append(f"{low} seed{'s' if high > 1 else ''}" if low == high else f"{low}-{high} seeds")
    units = [f"{header} in {UNITS[metric]}" for metric, header, _ in columns if metric in UNITS]
    parts.append("units: " + ", ".join(units) if units else "units: none")
    return "; ".join(parts)


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


def _marked(text: str, flags) -> str:
    """A text with its flags' markers after it: `0.93 †`, `torch.vi ‡`."""
    return " ".join([text, *(flag.marker for flag in flags)]) if flags else text


def legend_lines(t: PaperTable) -> list[str]:
    return [f"{flag.marker} {flag.text}" for flag in t.legend()]


def to_markdown(tables: list[PaperTable]) -> str:
    out = []
    for t in tables:
        headers = ["problem", "method", *t.setting_headers, *t.headers, "status"]
        out += [
            f"### {t.title}",
            "",
            f"_{t.caption}; mean ± sd over seeds; bold: best per problem where distinguishable_",
            "",
        ]
        out += ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for i, (problem, method, status, cells) in enumerate(t.rows):
            texts = [_marked(f"**{cell_text(c)}**" if c.best else cell_text(c), c.flags) for c in cells]
            row = [problem, method, *t.settings_cells(i), *texts, _marked(status, t.marks(i))]
            out.append("| " + " | ".join(row).replace("\n", " ") + " |")
        out += [""] + [line + "  " for line in legend_lines(t)] + ([""] if t.legend() else [])
    return "\n".join(out)


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def _frame(t: PaperTable, render_cell, render_text) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples(
        [(render_text(p), render_text(m)) for p, m, _, _ in t.rows], names=["problem", "method"]
    )
    data = [
        [render_text(v) for v in t.settings_cells(i)]
        + [render_cell(c) for c in cells]
        + [render_text(_marked(status, t.marks(i)))]
        for i, (_, _, status, cells) in enumerate(t.rows)
    ]
    columns = [render_text(h) for h in [*t.setting_headers, *t.headers]] + ["status"]
    return pd.DataFrame(data, index=index, columns=columns)


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
    for flag in cell.flags:
        body += rf"^{{{flag.latex}}}"
    return f"${body}$"


def _latex_label(t: PaperTable) -> str:
    return "tab:bench-" + "-".join("".join(ch if ch.isalnum() else "-" for ch in part) for part in (t.suite, t.task))


def _chosen_columns(t: PaperTable, columns: list[str] | None) -> list[int]:
    if not columns:
        return list(range(len(t.headers)))
    wanted = {c.lower() for c in columns}
    metric_of = {h: m for spec in (*TASK_COLUMNS.values(), *SUITE_COLUMNS.values(), MCMC_COLUMNS) for m, h, _ in spec}
    return [i for i, h in enumerate(t.headers) if h.lower() in wanted or metric_of.get(h, "").lower() in wanted]


def latex_columns_known() -> list[str]:
    """Every metric a `--columns` list may name (metric names or their headers)."""
    return sorted({m for spec in (*TASK_COLUMNS.values(), *SUITE_COLUMNS.values(), MCMC_COLUMNS) for m, _, _ in spec})


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
        settings = [latex_escape(h) for h in t.setting_headers]
        headers = (
            ["problem", "method", *settings]
            + [latex_escape(t.headers[i]) for i in keep]
            + (["status"] if show_status else [])
        )
        lines = [
            rf"\begin{{{float_env}}}[htbp]",
            r"\centering",
            rf"\caption{{{latex_escape(t.title)} ({latex_escape(t.caption)}; mean $\pm$ sd over seeds; "
            r"bold: best per problem where distinguishable)}",
            rf"\label{{{_latex_label(t)}}}",
            rf"\begin{{adjustbox}}{{max width={width}}}",
            rf"\begin{{tabular}}{{ll{'r' * (len(settings) + len(keep))}{'l' if show_status else ''}}}",
            r"\toprule",
            " & ".join(headers) + r" \\",
            r"\midrule",
        ]
        notes, used, previous = [], set(), None
        for n, (problem, method, status, cells) in enumerate(t.rows):
            if previous is not None and problem != previous:
                lines.append(r"\midrule")
            marks = "".join(rf"$^{{{flag.latex}}}$" for flag in t.marks(n))
            row = [latex_escape(problem) if problem != previous else "", latex_escape(method)]
            row += [latex_escape(v) for v in t.settings_cells(n)]
            row += [_latex_cell(cells[i]) for i in keep]
            used |= {flag for i in keep for flag in cells[i].flags} | set(t.marks(n))
            if show_status:
                short = status.split(":", 1)[0]
                row.append(latex_escape(short) + marks)
                if ":" in status:
                    notes.append(f"{latex_escape(method)} on {latex_escape(problem)}: {latex_escape(status)}")
            lines.append(" & ".join(row) + r" \\")
            previous = problem
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}"]
        for flag in reversed([f for f in t.legend() if f in used]):
            notes.insert(0, rf"$^{{{flag.latex}}}$ {latex_escape(flag.text)}")
        if notes:
            lines.append(r"\par\smallskip\footnotesize " + r" \par ".join(notes))
        lines.append(rf"\end{{{float_env}}}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _html_cell(cell: Entry) -> str:
    text = html.escape(cell_text(cell))
    return _marked(f"<strong>{text}</strong>" if cell.best else text, cell.flags)


def to_html_tables(tables: list[PaperTable]) -> str:
    parts = []
    for t in tables:
        frame = _frame(t, _html_cell, html.escape)
        parts.append(f"<h2>{html.escape(t.title)}</h2>")
        parts.append(f'<p class="caption">{html.escape(t.caption)}</p>')
        parts.append(frame.style.to_html(table_attributes='class="bench"'))
        parts += [f'<p class="legend">{html.escape(line)}</p>' for line in legend_lines(t)]
    return "\n".join(parts)
