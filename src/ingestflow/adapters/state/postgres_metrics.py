"""The metrics side of the PostgreSQL ledger: `sql_metrics` on PostgresDb."""

from __future__ import annotations

from ingestflow.adapters.state import postgres_rows
from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.sql_metrics import SqlMetrics


class PostgresMetrics(PostgresDb, SqlMetrics):
    to_transition = staticmethod(postgres_rows.to_transition)
