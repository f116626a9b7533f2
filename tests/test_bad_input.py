"""Every bad input, on every subcommand: exit 2, one line on stderr naming the problem (and the
valid choices where there are some), no traceback, and not one byte written anywhere.

The commands run in-process (typer's CliRunner keeps stderr apart from stdout) inside a sandbox
folder that is the working directory, so default output paths land in it too; the sandbox is
hashed before and after every case.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli.app import app
from bench.runtime.environment import gpus
from tests.conftest import HAS_NUMPYRO

S = "{store}"  # placeholders, filled from the sandbox
CASES = [
    # --- bench run: names
    ("run --suite nope", "unknown suite 'nope'", "valid choices: bnn, nightly, posteriordb, scale, toy"),
    ("run --suite toy --problems moons", "unknown problem in suite toy 'moons'", "valid choices:", "coinflip"),
    ("run --suite toy --methods stan.nuts", "unknown method 'stan.nuts'", "testing.exact"),
    ("run --suite toy --methods testing.exact:nosuch", "unknown variant of testing.exact 'nosuch'", "valid choices"),
    ("run --suite toy --device tpu", "unknown device 'tpu'", "valid choices: cpu, gpu"),
    ("run --suite toy --executor slurm", "unknown executor 'slurm'", "valid choices: dask, local"),
    (
        "run --suite toy --set stepz=3 --methods testing.exact",
        "unknown setting 'stepz'",
        "valid settings: sleep_per_step, sleep_s, steps",
    ),
    ("run --suite toy --set noequals --methods testing.exact", "--set takes name=value", "'noequals'"),
    # --- bench run: empty and repeated selections
    ("run --suite toy --methods ,", "--methods ',' names nothing", "valid choices:", "testing.exact"),
    ("run --suite toy --problems ,", "--problems ',' names nothing", "valid choices: banana, bimodal"),
    ("run --suite toy --problems coinflip,,gamma", "empty name between commas", "valid choices:"),
    ("run --suite toy --problems coinflip,coinflip", "--problems names 'coinflip' more than once"),
    ("run --suite toy --methods testing.exact,testing.exact", "--methods names 'testing.exact' more than once"),
    # --- bench run: numbers, NaN and infinity
    ("run --suite toy --seeds abc", "Invalid value for '--seeds'", "integer"),
    ("run --suite toy --seeds 0", "--seeds must be a positive number, got 0"),
    ("run --suite toy --seeds -1", "--seeds must be a positive number, got -1"),
    ("run --suite toy --repeats 0", "--repeats must be a positive number, got 0"),
    ("run --suite toy --draws 0", "--draws must be a positive number, got 0"),
    ("run --suite toy --jobs 0", "--jobs must be a positive number, got 0"),
    ("run --suite toy --timeout nan", "--timeout must be a positive number, got nan"),
    ("run --suite toy --timeout inf", "--timeout must be a positive number, got inf"),
    ("run --suite toy --timeout -5", "--timeout must be a positive number, got -5"),
    ("run --suite toy --timeout soon", "Invalid value for '--timeout'"),
    ("run --suite toy --methods testing.exact --set sleep_s=inf", "sleep_s='inf'", "finite"),
    ("run --suite toy --methods testing.exact --set sleep_s=nan", "sleep_s='nan'", "finite"),
    ("run --suite toy --methods testing.exact --set steps=abc", "steps='abc'"),
    # --- bench run: options and paths
    ("run --suite toy --bogus", "unknown option '--bogus'", "valid options:", "--suite"),
    ("run", "bench run needs --suite (see `bench list suites`) or --config grid.toml"),
    ("run --suite toy --methods testing.exact --store {folder}", "is a directory"),
    ("run --suite toy --methods testing.exact --store {file}/s.sqlite", "is not a directory"),
    ("run --suite toy --methods testing.exact --store {garbage}", "not a readable bench store"),
    ("run --suite toy --methods testing.exact --store {corrupt}", "is corrupt", "restore it"),
    ("run --suite toy --methods testing.exact --store {corrupt} --force", "is corrupt"),
    ("run --suite toy --methods testing.exact --store {ro_store}", "is read-only"),
    ("run --suite toy --methods testing.exact --store {ro_store} --force", "is read-only"),
    ("run --suite toy --methods testing.exact --store {ro_folder}/bench.sqlite", "store folder", "read-only"),
    # --- bench report
    ("report --store {missing}", "does not exist"),
    ("report --store {corrupt}", "is corrupt"),
    ("report --store {garbage}", "not a readable bench store"),
    ("report --store {store} --format docx", "unknown format 'docx'", "valid choices: csv, html, latex, md, summary"),
    ("report --store {store} --problems nosuch", "unknown problem 'nosuch'", "valid choices:", "coinflip"),
    ("report --store {store} --methods nosuch.method", "unknown method 'nosuch.method'", "testing.exact"),
    ("report --store {store} --suite nosuch", "unknown suite 'nosuch'", "toy"),
    ("report --store {store} --problems ,", "--problems ',' names nothing"),
    ("report --store {store} --problems banana", "no records in", "match the selection"),
    ("report --store {store} --out {folder}", "is an existing folder"),
    ("report --store {store} --format html --out {file}/r.html", "is not a folder"),
    # --- bench plot
    ("plot --store {store} --kind nosuch", "unknown plot kind 'nosuch'", "valid choices:", "elbo"),
    ("plot --store {store} --kind ,", "--kind ',' names nothing"),
    ("plot --store {store} --format svg", "unknown figure format 'svg'", "valid choices: both, pdf, png"),
    ("plot --store {store} --out {file}", "is an existing file"),
    ("plot --store {corrupt} --out {new}", "is corrupt"),
    ("plot --store {store} --problems nosuch --out {new}", "unknown problem 'nosuch'", "valid choices:"),
    # --- bench export
    ("export --store {store} --out {file}", "is an existing file"),
    (
        "export --store {store} --out {new} --format xml",
        "unknown format 'xml'",
        "valid choices: bencher, csv, github-action-benchmark, parquet",
    ),
    ("export --store {corrupt} --out {new}", "is corrupt"),
    ("export --store {missing} --out {new}", "does not exist"),
    ("export --store {store}", "Missing option '--out'"),
    # --- bench compare
    ("compare latest nosuch-run --store {store}", "'nosuch-run' is not a store file, run id or tag", "valid choices"),
    ("compare previous latest --store {store}", "'previous': the store holds 1 run(s)"),
    ("compare {store} {corrupt}", "is corrupt"),
    ("compare {store} {store} --alpha 2", "--alpha must lie between 0 and 1, got 2"),
    ("compare {store} {store} --alpha nan", "--alpha must lie between 0 and 1, got nan"),
    ("compare {store} {store} --out {folder}", "is an existing folder"),
    ("compare {store}", "Missing argument 'current'"),
    # --- bench history
    ("history --store {store} --problem nosuch --method testing.exact", "unknown problem 'nosuch'", "coinflip"),
    ("history --store {store} --problem coinflip --method nosuch", "unknown method 'nosuch'", "testing.exact"),
    (
        "history --store {store} --problem coinflip --method testing.exact --metric nosuch",
        "unknown metric 'nosuch'",
        "run_s",
    ),
    (
        "history --store {store} --problem coinflip --method testing.exact --device tpu",
        "unknown device 'tpu'",
        "cpu, gpu",
    ),
    ("history --store {missing} --problem coinflip --method testing.exact", "does not exist"),
    ("history --store {store} --problem coinflip --method testing.exact --plot {folder}", "is an existing folder"),
    # --- bench reference build | verify | list
    ("reference bogus", "unknown command 'bogus'", "valid choices: build, verify, list"),
    ("reference build --problems nosuch", "unknown problem 'nosuch'", "valid choices:", "moons"),
    ("reference build --problems ,", "--problems ',' names nothing"),
    ("reference build --suite nosuch", "unknown suite 'nosuch'"),
    ("reference build --problems sine --sampler foo", "unknown reference sampler 'foo'", "numpyro.nuts"),
    ("reference build --problems sine --seeds 0", "--seeds must be a positive number"),
    ("reference build --problems sine --set chains=inf", "reference setting chains='inf' is not a number"),
    ("reference build --problems sine --set target_accept=nan", "target_accept=nan is out of range"),
    ("reference build --problems sine --set bogus=1", "unknown reference setting 'bogus'", "valid settings"),
    ("reference verify --problems nosuch", "unknown problem 'nosuch'"),
    ("reference verify --references {new}", "no references in"),
    ("reference list --bogus", "unknown option '--bogus'", "--references"),
    # --- bench list, env, and the command itself
    ("list backends", "unknown listing 'backends'", "valid choices: all, methods, problems, runs, suites"),
    ("list problems extra", "unexpected extra argument"),
    ("env --bogus", "unknown option '--bogus'", "valid options: --help, --json"),
    ("frobnicate", "unknown command 'frobnicate'", "valid choices:", "run", "report"),
]
NUMPYRO_CASES = [
    (
        "run --suite toy --problems coinflip --methods numpyro.svi --set learning_rate=inf",
        "learning_rate='inf'",
        "finite",
    ),
    ("run --suite toy --problems coinflip --methods numpyro.svi,numpyro.svi:auto_normal", "more than once"),
]
READ_ONLY = ("{ro_store}", "{ro_folder}")


class InlineExecutor:
    """Runs cells in this process: the sandbox's store needs records, not isolation."""

    def run(self, cells):
        from bench.execution.worker import run_cell

        for cell in cells:
            yield run_cell(cell)


def _set_immutable(path: Path, on: bool) -> bool:
    """Read-only even for root: the immutable attribute (root ignores permission bits); a
    non-root user gets plain permission bits."""
    if os.geteuid() != 0:
        path.chmod((0o555 if path.is_dir() else 0o444) if on else (0o755 if path.is_dir() else 0o644))
        return True
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return done.returncode == 0 and (not on or not os.access(path, os.W_OK))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from bench.execution import driver
    from bench.execution.plan import Request, build_plan

    root = tmp_path_factory.mktemp("bad_input")
    store = root / "store.sqlite"
    cells = build_plan(
        Request(
            suite="toy",
            problems=["coinflip", "gamma"],
            methods=["testing.exact", "testing.raise"],
            repeats=1,
            draws=200,
        )
    )
    driver.execute(cells, store, InlineExecutor())
    corrupt = root / "corrupt.sqlite"
    shutil.copy(store, corrupt)
    assert corrupt.stat().st_size >= 16 * 4096  # pages 7-15 exist
    with open(corrupt, "r+b") as f:  # pages 7-15 overwritten: the meta table on page 2 still reads
        f.seek(6 * 4096)
        f.write(bytes(range(256)) * (9 * 16))
    (root / "garbage.sqlite").write_bytes(b"garbage" * 1000)
    (root / "folder").mkdir()
    (root / "file.txt").write_text("an existing file\n")
    (root / "ro").mkdir()
    shutil.copy(store, root / "ro" / "bench.sqlite")
    shutil.copy(store, root / "ro_store.sqlite")
    locked = [p for p in (root / "ro", root / "ro_store.sqlite") if _set_immutable(p, True)]
    paths = {
        "store": store,
        "corrupt": corrupt,
        "garbage": root / "garbage.sqlite",
        "folder": root / "folder",
        "file": root / "file.txt",
        "missing": root / "missing.sqlite",
        "new": root / "new_folder",
        "ro_store": root / "ro_store.sqlite",
        "ro_folder": root / "ro",
    }
    yield root, paths, len(locked) == 2
    for path in locked:
        _set_immutable(path, False)


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _params():
    for case in CASES:
        marks = []
        if "--device tpu" not in case[0] and "gpu" in case[0] and gpus():
            marks.append(pytest.mark.skip(reason="a GPU is visible"))
        yield pytest.param(case, id=case[0][:70], marks=marks)
    for case in NUMPYRO_CASES:
        skip = pytest.mark.skipif(not HAS_NUMPYRO, reason="numpyro extra not installed: pip install 'bench[numpyro]'")
        yield pytest.param(case, id=case[0][:70], marks=[skip])
    gpu_skip = pytest.mark.skipif(bool(gpus()), reason="a GPU is visible: --device gpu is valid here")
    yield pytest.param(
        ("run --suite toy --device gpu", "no GPU is visible", "valid choices: cpu"),
        id="run --device gpu",
        marks=[gpu_skip],
    )


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input_is_one_line_exit_two_and_writes_nothing(sandbox, monkeypatch, case):
    root, paths, read_only_ok = sandbox
    command, *expected = case
    if any(token in command for token in READ_ONLY) and not read_only_ok:
        pytest.skip("cannot make a path read-only here (root without a working chattr +i)")
    monkeypatch.chdir(root)  # default paths (results/, report.html) land in the hashed sandbox
    args = [part.format(**paths) for part in command.split()]
    before = _tree_hash(root)
    result = CliRunner().invoke(app, args, prog_name="bench")
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert _tree_hash(root) == before
    assert not paths["new"].exists()  # export and plot never made their folder for bad input


def test_the_table_is_broad():
    """At least 40 bad inputs, over every subcommand."""
    assert len(CASES) + len(NUMPYRO_CASES) + 1 >= 40
    commands = {case[0].split()[0] for case in CASES} | {" ".join(case[0].split()[:2]) for case in CASES}
    for command in (
        "run",
        "report",
        "plot",
        "export",
        "compare",
        "history",
        "reference build",
        "reference verify",
        "reference list",
        "list",
        "env",
    ):
        assert command in commands
