"""PostgresDb: connections, schema and transactions of the PostgreSQL ledger.

A psycopg_pool ConnectionPool (connections checked when taken, so a restarted server costs a
reconnect, not an error per stale connection); every change runs in one READ COMMITTED
transaction: row locks (`FOR UPDATE`, claims with `SKIP LOCKED`) make each status change
conditional, its transition row and counters are written in the same transaction. Any number
of processes and threads share one ledger.

psycopg is imported when a store is made, never at import time: `import ingestflow` works
without the `postgres` extra, and a store without it raises MissingExtraError. The password
(in the URL or as a Secret) never appears in repr, str or error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ingestflow.adapters.state.postgres_schema import (
    CHANNEL_SQL,
    CREATE_FOLDER_INDEX,
    DDL,
    DDL_LOCK,
    FOLDER_INDEX,
    MIGRATIONS,
    SCHEMA_VERSION,
)
from ingestflow.adapters.state.sql_dialect import POSTGRES
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import LedgerError, MissingExtraError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL (or key=value conninfo) with any password replaced by ********."""
    text = _KEYWORD_PASSWORD.sub(r"\1********", url)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:********@{host}"))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresDb:
    """The pool and the transaction helpers every part of the store uses."""

    DIALECT = POSTGRES  # for the parts written once for both SQL ledgers (sql_dialect)

    def __init__(
        self,
        url: str,
        password: Secret | None = None,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise MissingExtraError("postgres", "the PostgreSQL ledger") from None
        self.url = redact(url)
        self._pg = psycopg
        self._indexes: set[str] = set()  # indexes created on demand, known to exist
        self._secrets = [s for s in (password.reveal() if password else None,) if s]
        inline = urlsplit(url).password if "://" in url else None
        if inline:
            self._secrets.append(inline)
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": int(connect_timeout)}
        if password is not None:
            kwargs["password"] = password.reveal()
        try:
            with psycopg.connect(url, **kwargs) as conn:
                self._create_schema(conn)
                row = conn.execute(CHANNEL_SQL).fetchone()
                assert row is not None
                self._channel = str(row[0])  # NOTIFY'd when files become TODO (postgres_wakeup)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot open ledger {self.url}: {self._clean(exc)}") from None
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=min_size,
            max_size=max_size,
            open=False,
            check=ConnectionPool.check_connection,
            name="ingestflow-ledger",
            timeout=connect_timeout * 3,
        )
        self._pool.open()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    __str__ = __repr__

    def _clean(self, exc: BaseException) -> str:
        """The error as one line, with no secret in it."""
        message = _one_line(exc)
        for secret in self._secrets:
            message = message.replace(secret, "********")
        return redact(message)

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
            stored = self._stored_version(conn)
            if stored is not None and stored > SCHEMA_VERSION:
                raise LedgerError(
                    f"cannot open ledger {self.url}: it was written by a newer ingestflow"
                    f" (schema version {stored}; this release knows up to {SCHEMA_VERSION})"
                )
            if stored == SCHEMA_VERSION:
                return
            for version in range((stored or SCHEMA_VERSION) + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[version])
            conn.execute(DDL)  # a new ledger, or the tables a migration did not touch
            conn.execute(
                "INSERT INTO ledger_info VALUES ('schema_version', %s)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    def _ensure_folder_index(self) -> None:
        """Create the per-folder TODO index (markers) once per ledger: only workflows with a
        `ready_marker` need it. Its own transaction: building it holds back writers while it
        reads the TODO rows (once)."""
        if FOLDER_INDEX in self._indexes:
            return
        with self._tx() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (FOLDER_INDEX,))
            row = cur.fetchone()
            if not (row and row[0]):
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
                cur.execute(CREATE_FOLDER_INDEX)
        self._indexes.add(FOLDER_INDEX)

    @staticmethod
    def _stored_version(conn: psycopg.Connection[Any]) -> int | None:
        """The ledger's schema version; None when the ledger has no tables yet."""
        (table,) = conn.execute("SELECT to_regclass('ledger_info') IS NOT NULL").fetchone() or (
            False,
        )
        if not table:
            return None
        row = conn.execute("SELECT value FROM ledger_info WHERE name = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        """One write transaction; database errors become LedgerError."""
        pg = self._pg
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except pg.Error as exc:
            raise LedgerError(f"cannot change ledger {self.url}: {self._clean(exc)}") from None
        except self._pool_errors() as exc:
            raise LedgerError(f"ledger {self.url} is unavailable: {self._clean(exc)}") from None

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        """Several reads that see one state of the ledger."""
        pg = self._pg
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield cur
        except pg.Error as exc:
            raise LedgerError(f"ledger query failed: {self._clean(exc)}") from None
        except self._pool_errors() as exc:
            raise LedgerError(f"ledger {self.url} is unavailable: {self._clean(exc)}") from None

    def _read(self, sql: Any, params: Any = ()) -> list[tuple[Any, ...]]:
        pg = self._pg
        try:
            with self._pool.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except pg.Error as exc:
            raise LedgerError(f"ledger query failed: {self._clean(exc)}") from None
        except self._pool_errors() as exc:
            raise LedgerError(f"ledger {self.url} is unavailable: {self._clean(exc)}") from None

    @staticmethod
    def _hint(index: str) -> str:
        """No index hint: PostgreSQL's planner picks the index (SqliteDb names it)."""
        return ""

    @staticmethod
    def _pool_errors() -> type[Exception]:
        from psycopg_pool import PoolTimeout

        return PoolTimeout

    def close(self) -> None:
        self._pool.close()
