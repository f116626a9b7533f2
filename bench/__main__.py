"""`python -m bench`: the same command line as `bench`."""

from bench.cli.app import main

main()
