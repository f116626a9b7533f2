"""Paper tables: best values marked, failures kept, formats agreeing; LaTeX compiles where it can."""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from bench.reporting import report
from bench.reporting import tables
from tests.test_cli import bench


def records(rows):
    base = {"suite": "toy", "seed": 0, "status": "ok", "reason": "", "device": "cpu", "dtype": "float32"}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_bold_marks_the_true_best_per_problem_and_direction():
    table = records(
        [
            {"problem": "p", "method": "a", "elbo": 1.0, "khat": 0.9, "sd_ratio_min": 0.8},
            {"problem": "p", "method": "b", "elbo": 2.0, "khat": 0.5, "sd_ratio_min": 1.3},
            {"problem": "p", "method": "c", "elbo": 1.5, "khat": 0.2, "sd_ratio_min": 1.1},
            {"problem": "q", "method": "a", "elbo": -3.0, "khat": 0.1, "sd_ratio_min": 1.0},
            {"problem": "q", "method": "b", "elbo": -5.0, "khat": 0.3, "sd_ratio_min": 0.5},
        ]
    )
    (paper,) = tables.build_tables(table, {"p": "density", "q": "density"})
    assert paper.headers == ["ELBO", "k-hat", "sd ratio"]
    best = {(p, m): [c.best for c in cells] for p, m, _, cells in paper.rows}
    assert best[("p", "b")] == [True, False, False]  # highest ELBO
    assert best[("p", "c")] == [
        False,
        False,
        True,
    ]  # k-hat has no direction; sd ratio closest to 1 (1.1 beats 0.8, 1.3)
    assert best[("q", "a")] == [True, False, True] and best[("q", "b")] == [False, False, False]
    flags = {(p, m): cells[1].flagged for p, m, _, cells in paper.rows}
    assert flags[("p", "a")] and not flags[("p", "b")]  # k-hat 0.9 > 0.7 is flagged instead


def test_no_bold_where_the_winner_is_not_distinguishable():
    table = records(
        [
            # the same printed value everywhere: no winner
            {"problem": "p", "method": "a", "elbo": -14.7883, "elbo_se": 1e-3},
            {"problem": "p", "method": "b", "elbo": -14.7884, "elbo_se": 1e-3},
            # a gap smaller than the standard error: no winner
            {"problem": "q", "method": "a", "elbo": -10.0, "elbo_se": 0.5},
            {"problem": "q", "method": "b", "elbo": -10.2, "elbo_se": 0.5},
            # a gap larger than the standard error: a winner
            {"problem": "r", "method": "a", "elbo": -10.0, "elbo_se": 0.01},
            {"problem": "r", "method": "b", "elbo": -10.2, "elbo_se": 0.01},
        ]
    )
    (paper,) = tables.build_tables(table, {"p": "density", "q": "density", "r": "density"})
    best = {(p, m): cells[0].best for p, m, _, cells in paper.rows}
    assert not best[("p", "a")] and not best[("p", "b")]
    assert not best[("q", "a")] and not best[("q", "b")]
    assert best[("r", "a")] and not best[("r", "b")]


def test_spread_over_seeds_decides_distinguishability():
    table = records(
        [
            {"problem": "p", "method": "a", "seed": 0, "elbo": 1.0},
            {"problem": "p", "method": "a", "seed": 1, "elbo": 3.0},
            {"problem": "p", "method": "b", "seed": 0, "elbo": 1.5},
            {"problem": "p", "method": "b", "seed": 1, "elbo": 1.7},
        ]
    )
    (paper,) = tables.build_tables(table, {"p": "density"})
    assert not any(cells[0].best for _, _, _, cells in paper.rows)  # 2.0 vs 1.6, but sd 1.4


def test_means_and_sds_over_seeds_and_failures_keep_their_rows():
    table = records(
        [
            {"problem": "p", "method": "a", "seed": 0, "elbo": 1.0},
            {"problem": "p", "method": "a", "seed": 1, "elbo": 3.0},
            {"problem": "p", "method": "b", "seed": 0, "status": "error", "reason": "ValueError: boom", "elbo": np.nan},
            {"problem": "p", "method": "c", "seed": 0, "status": "unsupported", "reason": "no GPU", "elbo": np.nan},
        ]
    )
    (paper,) = tables.build_tables(table, {"p": "density"})
    rows = {m: (status, cells) for _, m, status, cells in paper.rows}
    assert rows["a"][1][0].mean == 2.0 and rows["a"][1][0].sd == pytest.approx(np.sqrt(2.0))
    assert rows["b"][0] == "error: ValueError: boom" and rows["b"][1][0].mean is None
    assert rows["c"][0] == "unsupported: no GPU"
    markdown = tables.to_markdown([paper])
    assert "| p | a | 2 ± 1.4 | ok |" in markdown
    assert "| p | b |  | error: ValueError: boom |" in markdown and "unsupported: no GPU" in markdown
    latex = tables.to_latex([paper])
    assert r"\toprule" in latex and r"\bottomrule" in latex and "error: ValueError: boom" in latex
    assert r"\label{tab:bench-toy-density}" in latex and r"\midrule" + "\n" + r"\bottomrule" not in latex


def test_latex_numbers_are_math_with_one_significant_figure_rule():
    assert tables.latex_number(5.6e-05) == r"5.6\times10^{-5}"
    assert tables.latex_number(-14.7883) == "-14.8" and tables.latex_number(0.0123456) == "0.0123"
    assert tables.latex_number(0.99996) == "1.00" and tables.latex_number(123456.0) == r"1.23\times10^{5}"
    table = records(
        [
            {"problem": "p", "method": "a", "elbo": -14.79, "khat": 5.6e-05},
            {"problem": "p", "method": "b", "elbo": -14.79, "khat": 0.2},
        ]
    )
    (paper,) = tables.build_tables(table, {"p": "density"})
    latex = tables.to_latex([paper])
    assert "e-05" not in latex and r"$5.6\times10^{-5}$" in latex
    assert "status" not in latex  # a constant `ok` column is dropped
    assert r"\mathbf" not in latex  # -14.79 everywhere: no winner; k-hat: no direction
    only = tables.to_latex([paper], columns=["elbo"])
    assert "k-hat" not in only and "ELBO" in only


def parse_markdown(text):
    """{(problem, method): {header: mean}} from the paper tables' Markdown."""
    out, headers = {}, None
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            headers = None if not line.startswith("|") else headers
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "problem":
            headers = cells
            continue
        values = {}
        for header, cell in zip(headers[2:-1], cells[2:-1]):
            number = re.match(r"\**(-?[\d.e+-]+)", cell)
            if number:
                values[header] = float(number.group(1))
        out[(cells[0], cells[1])] = values
    return out


def test_markdown_and_csv_round_trip_to_the_same_numbers(small_store, tmp_path):
    markdown = bench("report", "--store", str(small_store), cwd=tmp_path)
    csv = bench("report", "--store", str(small_store), "--format", "csv", cwd=tmp_path)
    assert markdown.returncode == 0 and csv.returncode == 0, markdown.stderr + csv.stderr
    long = pd.read_csv(__import__("io").StringIO(csv.stdout))
    parsed = parse_markdown(
        markdown.stdout.split(": cost to accuracy")[0]
    )  # the paper tables (cost to accuracy follows)
    headers = {h: m for spec in tables.TASK_COLUMNS.values() for m, h, _ in spec}
    checked = 0
    for (problem, method), values in parsed.items():
        for header, shown in values.items():
            rows = long[
                (long.problem == problem)
                & (long.method == method)
                & (long.metric == headers[header])
                & (long.status == "ok")
            ]
            assert shown == pytest.approx(rows["value"].mean(), rel=5e-3, abs=1e-9), (problem, method, header)
            checked += 1
    assert checked > 20
    assert "testing.raise" in markdown.stdout and "error: ValueError: deliberate failure" in markdown.stdout


def test_latex_compiles_where_pdflatex_is_present(small_store, tmp_path):
    result = bench(
        "report", "--store", str(small_store), "--format", "latex", "--out", str(tmp_path / "t.tex"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "t.tex").read_text()
    assert text.count(r"\begin{table}") == 3 and r"\mathbf{" in text and r"\toprule" in text
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    # a portrait one-column page with ordinary margins: every table must fit (no overfull box)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,adjustbox}\n"
        "\\begin{document}\n\\input{t.tex}\n\\end{document}\n"
    )
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, log[-3000:]


def test_html_page_is_self_contained(small_store, tmp_path):
    out = tmp_path / "report.html"
    result = bench("report", "--store", str(small_store), "--format", "html", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert page.count("<table") == 5 and "<strong>" in page  # 3 paper tables, 2 cost to accuracy (toy, sine)
    assert page.count('src="data:image/png;base64,') >= 6 and 'src="http' not in page and "<script" not in page


def test_report_selection_and_bad_input(small_store, tmp_path):
    only = bench("report", "--store", str(small_store), "--problems", "moons", cwd=tmp_path)
    assert only.returncode == 0 and "moons" in only.stdout and "coinflip" not in only.stdout
    for args, message in [(("--format", "docx"), "unknown format"), (("--tag", "nope"), "no records")]:
        result = bench("report", "--store", str(small_store), *args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr
    assert report.latest_records(small_store, tag="nope").empty
