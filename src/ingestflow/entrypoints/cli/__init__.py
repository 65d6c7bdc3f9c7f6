"""The `ingestflow` command line."""
