"""Alert state in the SQLite ledger: `sql_alerts` on SqliteDb. Write transactions run one at a
time (BEGIN IMMEDIATE), so evaluations need no lock of their own."""

from __future__ import annotations

from ingestflow.adapters.state.sql_alerts import SqlAlerts
from ingestflow.adapters.state.sqlite_db import SqliteDb


class SqliteAlerts(SqliteDb, SqlAlerts):
    pass
