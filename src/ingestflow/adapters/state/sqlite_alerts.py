"""Alert state in the SQLite ledger: `sql_alerts` in SQLite's dialect. Write transactions run
one at a time (BEGIN IMMEDIATE), so evaluations need no lock of their own."""

from __future__ import annotations

from ingestflow.adapters.state.sql_alerts import SQLITE, SqlAlerts
from ingestflow.adapters.state.sqlite_db import SqliteDb


class SqliteAlerts(SqliteDb, SqlAlerts):
    DIALECT = SQLITE

    def _alerts_ready(self) -> bool:
        return self._has_table("alerts")
