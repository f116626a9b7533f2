"""The command line: `bench run|report|plot|compare|...`, its input checks and one-line errors.

`app` holds the typer commands; `errors` turns bad input into one line and exit code 2;
`selection` checks names and paths before anything runs; `reference` and `scale` hold the
`bench reference` and `bench scale` command groups. Everything else is reached through the
packages below it.
"""

from bench.cli.app import app, main

__all__ = ["app", "main"]
