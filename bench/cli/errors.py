"""Every way the command line can refuse its input ends the same way: one line on stderr, exit 2.

Click's own usage errors (a bad number, an unknown option or command) would otherwise print
Typer's five-line box; `BenchGroup.main` runs the command non-standalone and formats them, the
harness's `BenchInputError` and a store SQLite refuses, as one line naming the valid choices.
"""

from __future__ import annotations

import re
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

try:  # typer 0.2x vendors click; older typer uses the click package
    from typer._click import exceptions as clickx
except ImportError:  # pragma: no cover - depends on the installed typer
    import click.exceptions as clickx

from bench.spec.errors import BenchInputError
from bench.store import StoreError

STORAGE_FULL = ("database or disk is full", "disk i/o error", "file too large")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` as one line on stderr and exit."""
    line = " ".join(str(message).split())
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()
    sys.exit(code)


def _options(ctx: Any) -> list[str]:
    return sorted(
        opt for p in ctx.command.get_params(ctx) for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")
    )


def usage_line(exc: clickx.UsageError) -> str:
    """A click usage error as one line; unknown options and commands list the valid ones."""
    ctx = exc.ctx
    where = f" for `{ctx.command_path}`" if ctx is not None else ""
    if isinstance(exc, clickx.NoSuchOption) and ctx is not None:
        return f"unknown option {exc.option_name!r}{where}; valid options: {', '.join(_options(ctx))}"
    message = exc.format_message()
    command = re.match(r"No such command '(.*)'", message)
    if command and ctx is not None and hasattr(ctx.command, "list_commands"):
        valid = ", ".join(ctx.command.list_commands(ctx))
        return f"unknown command {command.group(1)!r}{where}; valid choices: {valid}"
    if ctx is not None and not isinstance(exc, clickx.BadParameter):
        return f"{message.rstrip('.')}{where} (see `{ctx.command_path} --help`)"
    return message


def storage_error(exc: StoreError) -> tuple[str, int]:
    """A store SQLite could not read or write, as (one line, exit code): a full disk mid-run is a
    fault (exit 1, finished cells kept); anything else is a store that cannot be used (exit 2)."""
    text = " ".join(str(exc).split())
    if any(marker in text.lower() for marker in STORAGE_FULL):
        return f"store write failed ({text}); every cell finished before is kept: free space and run again to resume", 1
    return f"the store cannot be used ({text}); check the file, its folder and their permissions", 2


class BenchGroup(TyperGroup):
    """The root command: usage errors, bad input and unusable stores become one line."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except clickx.NoArgsIsHelpError as exc:
            exc.show()  # `bench` alone prints its help, as before
            sys.exit(exc.exit_code)
        except clickx.UsageError as exc:
            fail(usage_line(exc), exc.exit_code)
        except clickx.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except typer.Abort:
            fail("aborted", 130)
        except BenchInputError as exc:
            fail(str(exc), 2)
        except StoreError as exc:
            fail(*storage_error(exc))
        except OSError as exc:
            if exc.filename is None:
                raise  # not a path the user gave: a bug, shown in full
            fail(f"{exc.filename}: {exc.strerror or exc}", 2)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
