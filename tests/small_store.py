"""The small store the report and plot tests read, built by a process of its own.

The first test worker to collect a test that needs it starts the build (an atomic mkdir decides
which), so it runs beside the first tests instead of holding one worker while the other waits on
it. `wait` returns once the build says it is done, or fails the test with the build's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 1200


def start(shared: Path) -> Path:
    """Start the session's one build under `shared` (no-op if one has started); its folder."""
    root = shared / "small_store"
    try:
        root.mkdir()
    except FileExistsError:
        return root
    with open(root / "build.log", "w") as log:
        subprocess.Popen(
            [sys.executable, "-m", "tests.small_store", str(root)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    return root


def wait(root: Path) -> Path:
    """The built store, once the build has written `built`; a failed build fails the caller with its log."""
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while not (root / "built").exists():
        if (root / "failed").exists():
            raise AssertionError(f"building the small store failed:\n{(root / 'build.log').read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the small store was not built in {BUILD_TIMEOUT_S} s: {root / 'build.log'}")
        time.sleep(0.2)  # the build's marker files are the events; nothing else to block on
    return root / "bench.sqlite"


def build(root: Path) -> Path:
    """Toy cells (two seeds, one failing method) and bnn cells, and a short sine reference."""
    store = root / "bench.sqlite"

    def bench(*args):
        result = subprocess.run(
            [sys.executable, "-m", "bench", *args, "--store", str(store)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
            env=dict(os.environ),
        )
        assert result.returncode == 0, result.stderr

    import suites
    from bench.references import build as reference_build

    sine = suites.get_problem("sine")
    short = {"chains": 2, "warmup": 50, "draws": 50, "thin": 1, "max_tree_depth": 5}  # a failed build, fast
    reference_build.build(sine, 0, "numpyro.nuts", reference_build.settings_for(sine, short), root / "references")
    short_fits = ("--set", "steps=300", "--repeats", "1")
    toy = ("--suite", "toy", "--problems", "coinflip,banana", "--seeds", "2")
    bench("run", *toy, "--methods", "testing.exact,testing.raise,numpyro.svi:auto_normal", *short_fits)
    bench("run", "--suite", "bnn", "--problems", "moons,sine", "--methods", "numpyro.svi:auto_normal", *short_fits)
    return store


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    try:
        build(folder)
    except BaseException:
        traceback.print_exc()
        (folder / "failed").touch()
        raise
    (folder / "built").touch()
