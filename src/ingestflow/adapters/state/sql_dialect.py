"""What the SQL ledgers (SQLite, PostgreSQL) write differently, for the parts of the store
written once for both (`sql_alerts`, `sql_metrics`): statements are written with `?`
placeholders and SQLite's/PostgreSQL's common syntax, and `SqlDialect` fills in the rest."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


@dataclass(frozen=True)
class SqlDialect:
    param: str  # the placeholder: "?" or "%s"
    in_list: str  # `{column}` is one of the ids bound as one parameter (see `ids`)
    greatest: str  # the two-argument maximum: max() in SQLite, greatest() in PostgreSQL
    id_brackets: str  # how `ids` encloses a literal list: "[]" (JSON) or "{}" (an array)
    lock_rows: str = ""  # appended to a SELECT of rows the transaction takes
    serialise: str | None = None  # run first by writers that must run one at a time

    def sql(self, text: str) -> str:
        """`text` written with `?` placeholders, in this dialect."""
        return text if self.param == "?" else text.replace("?", self.param)

    def ids(self, ids: Sequence[int]) -> str:
        """A list of ids as the one (text) parameter `in_list` binds: one literal, cheaper to
        send than a list the driver dumps element by element."""
        brackets = self.id_brackets
        return brackets[0] + ",".join(map(str, map(int, ids))) + brackets[1]


SQLITE = SqlDialect("?", "{column} IN (SELECT value FROM json_each(?))", "max", "[]")
POSTGRES = SqlDialect(
    "%s",
    "{column} = ANY(?::bigint[])",
    "greatest",
    "{}",
    lock_rows=" FOR UPDATE SKIP LOCKED",
    serialise="SELECT pg_advisory_xact_lock(?)",
)


class SqlLedger:
    """What the shared parts need of a SQL ledger's connection class (SqliteDb, PostgresDb),
    which comes first among a store's bases."""

    DIALECT: SqlDialect

    if TYPE_CHECKING:

        def _tx(self) -> AbstractContextManager[Any]: ...
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _hint(self, index: str) -> str: ...

    def _write(self, text: str, params: Sequence[Any]) -> int:
        """One statement (written with `?` placeholders) in its own write transaction; the
        rows it changed."""
        with self._tx() as db:
            return int(db.execute(self.DIALECT.sql(text), params).rowcount)

    def _table_ready(self, name: str) -> bool:
        """Whether table `name` exists (a read-only ledger of an older release may lack it)."""
        return True
