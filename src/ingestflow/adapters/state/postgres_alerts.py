"""Alert state in the PostgreSQL ledger: `sql_alerts` on PostgresDb. Evaluations run one at a
time (ALERTS_LOCK, an advisory lock held until commit); a sender locks the notifications it
takes with SKIP LOCKED."""

from __future__ import annotations

from ingestflow.adapters.state.postgres_db import PostgresDb
from ingestflow.adapters.state.postgres_schema import ALERTS_LOCK
from ingestflow.adapters.state.sql_alerts import SqlAlerts


class PostgresAlerts(PostgresDb, SqlAlerts):
    SERIALISE_KEY = ALERTS_LOCK
