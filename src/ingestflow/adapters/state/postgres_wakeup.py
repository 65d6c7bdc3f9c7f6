"""PostgresWakeup: workers sleeping on a PostgreSQL ledger wake as soon as work may be waiting.

Every ledger transaction that makes a file TODO (a registration, a retry, a released or reaped
batch, a requeue) or adds a completeness marker sends a NOTIFY on the ledger's channel
(`CHANNEL_SQL`: one channel per database and schema, so ledgers sharing a server do not wake
each other); PostgreSQL delivers it when that transaction commits. `wait` listens on a
connection of its own (not the pool's: a LISTEN lives as long as its session).

A notification is a hint: the worker still claims through the ledger, and it still polls every
`schedule_interval`, so a lost notification (a broken connection) costs latency, never work.
After a broken connection `wait` reconnects on its next call and reports a wake-up, since
notifications sent meanwhile were lost.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from ingestflow.adapters.state.postgres_db import redact
from ingestflow.adapters.state.postgres_schema import CHANNEL_SQL
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import MissingExtraError

if TYPE_CHECKING:
    import psycopg


class PostgresWakeup:
    """`wait(timeout)` returns True once a notification arrived (or may have been lost),
    False when `timeout` seconds passed without one."""

    def __init__(
        self, url: str, password: Secret | None = None, *, connect_timeout: float = 10.0
    ) -> None:
        try:
            import psycopg
        except ImportError:
            raise MissingExtraError("postgres", "the PostgreSQL ledger") from None
        self._pg = psycopg
        self._url = url
        self.url = redact(url)
        self._kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": int(connect_timeout)}
        if password is not None:
            self._kwargs["password"] = password.reveal()
        self._conn: psycopg.Connection[Any] | None = None
        self.channel: str | None = None
        self._connect()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _connect(self) -> bool:
        """Open the listening connection; False when the server cannot be reached now."""
        pg = self._pg
        from psycopg import sql

        try:
            conn = pg.connect(self._url, **self._kwargs)
        except pg.Error:
            return False
        try:
            row = conn.execute(CHANNEL_SQL).fetchone()
            assert row is not None
            channel = str(row[0])
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except pg.Error:
            conn.close()
            return False
        self._conn, self.channel = conn, channel
        return True

    def wait(self, timeout: float) -> bool:
        if self._conn is None or self._conn.closed:
            if self._connect():
                return True  # notifications sent while disconnected are lost: look now
            time.sleep(max(0.0, timeout))
            return False
        pg, woken = self._pg, False
        try:
            for _ in self._conn.notifies(timeout=max(0.0, timeout), stop_after=1):
                woken = True
            if woken:  # several commits at once: one wake-up for all of them
                for _ in self._conn.notifies(timeout=0.0):
                    pass
        except pg.Error:
            self._drop()
            return True
        return woken

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(self._pg.Error):
                conn.close()

    def close(self) -> None:
        self._drop()
