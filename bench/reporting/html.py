"""A self-contained HTML page: the comparison tables and every figure, embedded as PNG data."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, UTC
from pathlib import Path

import pandas as pd

import suites
from bench.reporting import accuracy_table, tables

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table.bench { border-collapse: collapse; margin: 0.5em 0 2em; font-size: 0.85em; }
table.bench th, table.bench td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
table.bench th.row_heading, table.bench th.index_name { text-align: left; }
figure { margin: 1em 0 2.5em; } figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
.meta { color: #555; font-size: 0.85em; }
.caption, .legend { color: #444; font-size: 0.85em; margin: 0.2em 0; }
"""


def png_data(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def page(store: Path, table: pd.DataFrame, paper: list[tables.PaperTable], references: Path) -> str:
    import matplotlib.pyplot as plt

    from bench.reporting import plots

    from bench.reporting.report import label_by_settings

    figures = plots.make_figures(store, label_by_settings(table), plots.KINDS, references)
    runs = ", ".join(sorted(table["run_id"].unique()))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>bench report</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>bench report</h1>",
        f'<p class="meta">store {html.escape(str(store))}; runs {html.escape(runs)}; '
        f"generated {datetime.now(UTC).isoformat(timespec='seconds')}. Cells: mean ± sd over seeds of the "
        "latest ok record of each cell (problem, method, settings); best per problem in bold, never a cell marked not "
        "converged (‡); † marks k-hat > 0.7; failed and unsupported cells keep their rows.</p>",
        tables.to_html_tables(paper),
        accuracy_table.to_html(
            accuracy_table.build(table, {p: suites.get_problem(p).task for p in table["problem"].unique()})
        ),
        "<h2>Figures</h2>",
    ]
    for name, figure in figures.items():
        parts.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{png_data(figure)}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>"
        )
        plt.close(figure)
    parts.append("</body></html>")
    return "\n".join(parts)
