"""`python -m ingestflow` runs the CLI."""

from ingestflow.entrypoints.cli.app import main

main()
