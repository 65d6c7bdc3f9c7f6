"""Benchmark harness for ingestflow (issue #3).

Run every case and contender with one command from the repository root::

    .venv/bin/python -m benchmarks                 # full size, 3 runs (long: ~2 GB of data)
    .venv/bin/python -m benchmarks --size smoke    # tiny data, 1 run, ~4 minutes (CI)

Results go to ``benchmarks/results/latest.json`` and ``benchmarks/results/latest.md``; generated
data is cached under ``benchmarks/results/data/`` (git-ignored) by (case, size, seed).

Modules: ``sizes`` (what each size means), ``datagen`` (seeded data + expected checksums),
``contender`` (the child process that runs one contender once), ``runner`` and ``launcher``
(spawn a child from a small process and measure its wall time, CPU time and peak RSS with
``os.wait4``), ``verify`` (checks outputs), ``ledger``, ``postgres_ledger`` (the ledger case on
SQLite and on PostgreSQL), ``files_api``, ``latency`` and ``workers`` (the ingestflow-only cases;
``workers``: 1, 2, 4 worker processes on one PostgreSQL ledger), ``pg`` (the throwaway PostgreSQL
server of tests/support), ``report`` (statistics, targets, JSON, Markdown).
"""
