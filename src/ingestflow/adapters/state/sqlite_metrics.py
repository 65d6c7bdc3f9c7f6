"""The metrics side of the SQLite ledger: `sql_metrics` on SqliteDb."""

from __future__ import annotations

from ingestflow.adapters.state import sqlite_rows
from ingestflow.adapters.state.sql_metrics import SqlMetrics
from ingestflow.adapters.state.sqlite_db import SqliteDb


class SqliteMetrics(SqliteDb, SqlMetrics):
    to_transition = staticmethod(sqlite_rows.to_transition)
