"""`bench run --config grid.toml`: a declared grid, flags overriding it, bad keys refused; and the
command line's own conveniences (python -m bench, --version, -h, choices in --help, fitted summary)."""

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.test_cli import bench

GRID = """
seeds = 2
repeats = 1
draws = 2000
tag = "from-file"

[[grid]]
suite = "toy"
problems = ["coinflip", "gaussian2d"]
methods = ["testing.exact"]
set = { steps = 5 }

[[grid]]
suite = "toy"
problems = ["coinflip"]
methods = ["testing.exact"]
set = { steps = 5 }
"""


def records(store):
    con = sqlite3.connect(store)
    try:
        return sorted(con.execute("SELECT problem, method, seed FROM records").fetchall())
    finally:
        con.close()


def test_config_declares_the_grid_and_flags_override_it(tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text(GRID)
    store = tmp_path / "a.sqlite"
    result = bench("run", "--config", str(config), "--store", str(store), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    # two blocks name coinflip twice: planned once; seeds from the file
    assert records(store) == [
        ("coinflip", "testing.exact", 0),
        ("coinflip", "testing.exact", 1),
        ("gaussian2d", "testing.exact", 0),
        ("gaussian2d", "testing.exact", 1),
    ]
    tag = sqlite3.connect(store).execute("SELECT DISTINCT tag FROM runs").fetchall()
    assert tag == [("from-file",)]

    store_b = tmp_path / "b.sqlite"
    result = bench(
        "run", "--config", str(config), "--seeds", "1", "--tag", "flag", "--store", str(store_b), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert records(store_b) == [("coinflip", "testing.exact", 0), ("gaussian2d", "testing.exact", 0)]
    assert sqlite3.connect(store_b).execute("SELECT DISTINCT tag FROM runs").fetchall() == [("flag",)]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("seedz = 2\n[[grid]]\nsuite = 'toy'\n", "unknown key 'seedz'"),
        ("[[grid]]\nsuite = 'toy'\nmethodz = ['x']\n", "unknown key 'methodz'"),
        ("seeds = 'two'\n[[grid]]\nsuite = 'toy'\n", "seeds must be int"),
        ("seeds = 2\n", "no [[grid]] block"),
        ("[[grid]]\nproblems = ['coinflip']\n", "needs a suite"),
        ("[[grid]\n", "not valid TOML"),
        ("[[grid]]\nsuite = 'nosuch'\n", "unknown suite 'nosuch'"),
        ("[[grid]]\nsuite = 'toy'\nmethods = ['testing.exact']\nset = { stepz = 3 }\n", "unknown setting 'stepz'"),
        (
            "[[grid]]\nsuite='toy'\nproblems=['coinflip']\nmethods=['testing.exact']\nset={steps=3}\n"
            "[[grid]]\nsuite='toy'\nproblems=['coinflip']\nmethods=['testing.exact']\nset={steps=4}\n",
            "declared twice",
        ),
    ],
)
def test_bad_config_is_one_line_exit_2_nothing_written(tmp_path, text, needle):
    config = tmp_path / "grid.toml"
    config.write_text(text)
    store = tmp_path / "s.sqlite"
    result = bench("run", "--config", str(config), "--store", str(store), cwd=tmp_path)
    assert result.returncode == 2, result.stderr + result.stdout
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not store.exists()


def test_missing_config_and_missing_suite(tmp_path):
    result = bench("run", "--config", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stderr
    result = bench("run", cwd=tmp_path)
    assert result.returncode == 2 and "--suite" in result.stderr and "--config" in result.stderr


def test_python_m_bench_version_and_short_help(tmp_path):
    from bench import __version__

    out = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == f"bench {__version__}"
    short = subprocess.run(
        [sys.executable, "-m", "bench", "run", "-h"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert short.returncode == 0 and "--config" in short.stdout
    assert "[cpu|gpu]" in short.stdout  # choices, not <str>
    for command, choices in (("report", "md|latex"), ("plot", "png|pdf|both"), ("export", "csv|parquet")):
        text = subprocess.run(
            [sys.executable, "-m", "bench", command, "--help"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=dict(os.environ, COLUMNS="200"),
        ).stdout
        assert choices in text, command


def test_summary_drops_columns_to_fit_the_terminal():
    from bench.cli.app import fit_columns

    headers = ["problem", "method", "seed", "status", "ELBO", "ELBO se", "k-hat", "Brier", "run_s"]
    rows = [["coinflip", "numpyro.svi:auto_normal", "0", "ok", "-14.79", "0.0012", "0.31", "0.2", "0.0123"]]
    everything = fit_columns(headers, rows, 10_000)
    assert everything == list(range(len(headers)))
    narrow = [headers[i] for i in fit_columns(headers, rows, 80)]
    assert narrow[:4] == ["problem", "method", "seed", "status"]  # identity and status always stay
    assert "ELBO" in narrow and "ELBO se" not in narrow and "Brier" not in narrow
    width = sum(max(len(headers[i]), len(rows[0][i])) + 3 for i in fit_columns(headers, rows, 80)) + 1
    assert width <= 80


def test_run_options_are_declared_once():
    """The command line's options of `bench run` and the keys a grid file may set are RunOptions'
    fields (plus the grid's own: suite, problems, methods, set, config, wide)."""
    import typer.main

    from bench.cli.app import app
    from bench.execution import options

    command = typer.main.get_command(app).commands["run"]
    cli = {p.name for p in command.params}
    fields = {f.name for f in options.fields()}
    assert cli - {"suite", "problems", "methods", "set_", "config", "wide"} == fields
    assert set(options.file_types()) == fields
    defaults = options.RunOptions()
    assert (defaults.device, defaults.jobs, defaults.threads, defaults.draws, defaults.dtype) == (
        "cpu",
        1,
        1,
        4000,
        "float32",
    )
