"""Perf tests: run by `tox -e perf` (pytest tests/perf -m perf), never by the default test command."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:  # the hook sees every collected item: mark only this folder's
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.perf)
