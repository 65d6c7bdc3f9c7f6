"""Alert state in the PostgreSQL ledger: `sql_alerts` in PostgreSQL's dialect. Evaluations run
one at a time (ALERTS_LOCK, an advisory lock held until commit); a sender locks the
notifications it takes with SKIP LOCKED."""

from __future__ import annotations

from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.postgres_schema import ALERTS_LOCK
from ingestflow.adapters.state.sql_alerts import POSTGRES, SqlAlerts


class PostgresAlerts(PostgresDb, SqlAlerts):
    DIALECT = POSTGRES
    SERIALISE_KEY = ALERTS_LOCK

    def _hint(self, index: str) -> str:
        return ""  # the planner picks the index
