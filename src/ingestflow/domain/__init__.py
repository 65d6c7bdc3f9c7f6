"""Pure domain: records, the status state machine, batching policy, key rules.

Nothing in this package imports adapters, DuckDB, SQLite or the CLI. Time is always an argument.
"""
