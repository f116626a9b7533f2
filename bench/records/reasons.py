"""A failed cell's status and reason: a closed set of statuses, one short line of reason.

Libraries fail verbosely (PyTensor prints its whole graph, 5,000 characters and more): the table
shows one line of at most `REASON_LIMIT` characters and the record's info keeps the full text.
A fit whose numbers turn non-finite is `diverged` in every backend, whether the library raised
(PyMC's FloatingPointError "NaN occurred in optimization", or its ParameterValueError when a
parameter went NaN) or returned NaN parameters.
"""

from __future__ import annotations

import re

REASON_LIMIT = 200
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "CUDA out of memory", "Out of memory")
# PyMC: a parameter gone NaN fails its distribution's check ("0 <= p <= 1") mid-fit, measured with
# `--set learning_rate=1e6` on coinflip; named, not imported, so nothing heavy loads here.
DIVERGED_ERRORS = ("ParameterValueError",)
NON_FINITE = re.compile(r"\bnan\b|\binf\b|non-?finite|not finite|infinit|overflow", re.IGNORECASE)


def one_line(text: str, limit: int = REASON_LIMIT) -> str:
    """The text's whitespace collapsed to one line, cut at `limit` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def exception_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def classify(exc: BaseException) -> str:
    """The status of a cell whose fit raised `exc`: oom, diverged (non-finite numbers) or error."""
    if isinstance(exc, MemoryError):
        return "oom"
    message = str(exc)
    if any(marker in message for marker in OOM_MARKERS):
        return "oom"
    if isinstance(exc, (FloatingPointError, OverflowError)) or type(exc).__name__ in DIVERGED_ERRORS:
        return "diverged"
    if NON_FINITE.search(message[: REASON_LIMIT * 2]):
        return "diverged"
    return "error"
