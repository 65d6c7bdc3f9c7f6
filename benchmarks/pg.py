"""The throwaway PostgreSQL server of the PostgreSQL cases (the ledger case's PostgreSQL half and
the ``workers`` case): the tests' own helper, ``tests/support/postgres_server.py`` (Debian's
binaries, a data folder under /tmp, 127.0.0.1 at a free port, durability off).

A missing PostgreSQL is an error, never a skip: ``check_available`` raises ``BenchmarkError``
with ``PostgresMissingError``'s message (what to install), before any case runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"
POSTGRES_CASES = ("ledger", "workers")


def server_module() -> ModuleType:
    """``tests/support/postgres_server.py`` (tests/support is a folder on the path, not a
    package: the same module pytest imports as ``postgres_server``)."""
    if str(SUPPORT) not in sys.path:
        sys.path.insert(0, str(SUPPORT))
    return importlib.import_module("postgres_server")


def start_server(settings: dict[str, str] | None = None) -> Any:
    """A started ``PostgresServer`` (call ``stop()``); PostgresMissingError when not installed."""
    return server_module().PostgresServer(settings).start()


def check_available(case: str) -> None:
    """BenchmarkError naming `case` when PostgreSQL's server binaries or psycopg are missing."""
    from benchmarks.runner import BenchmarkError

    module = server_module()
    try:
        module.server_binaries()
    except module.PostgresMissingError as exc:
        raise BenchmarkError(f"case {case} needs PostgreSQL: {exc}") from None
    if importlib.util.find_spec("psycopg") is None:
        raise BenchmarkError(
            f"case {case} needs psycopg (the PostgreSQL ledger's driver): "
            "pip install -e '.[postgres]'"
        )
