"""`ingestflow query`: SQL over the Parquet outputs, one view per workflow.

Cost grows with the number of output files, so each view does as little per file as it can
(measured at 20,000 small outputs, see the README):

- only the workflows the SQL names get a view (every workflow when it names none, so `SHOW
  TABLES` still lists them all); the others' files are never opened;
- the files are listed once here (os.scandir) and handed to DuckDB as a list, glob characters
  escaped, so DuckDB neither re-lists the folder at every bind nor reads `[x]` in a key or in the
  output root as a pattern;
- no `union_by_name` (which opens every file's footer at bind time and keeps a reader per
  file): files are grouped by schema first (a footer read and a byte-prefix test per file, a
  fraction of that cost), each group is one plain read, and the groups are combined with
  `UNION ALL BY NAME`, which gives the same columns;
- `hive_partitioning = false`: a key folder such as `date=2024-01-01/` is not a column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingestflow.adapters.engines.duckdb_sql import ident, literal
from ingestflow.domain.errors import IngestflowError

_FOOTER_READ = 64 * 1024
# More distinct schemas than this: one union_by_name read instead of a UNION of plain reads.
_MAX_GROUPS = 32


@dataclass
class QueryResult:
    """An executed query: column names, then rows fetched in batches (never all at once)."""

    columns: list[str]
    _cursor: duckdb.DuckDBPyConnection | None

    def batches(self, size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        while self._cursor is not None:
            rows = self._cursor.fetchmany(size)
            if not rows:
                return
            yield rows


def run_query(
    output_root: Path, workflows: Sequence[str], sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` with a view per workflow over `<output>/<workflow>/**/*.parquet`; all rows."""
    with open_query(output_root, workflows, sql) as result:
        return result.columns, [row for batch in result.batches() for row in batch]


@contextmanager
def open_query(output_root: Path, workflows: Sequence[str], sql: str) -> Iterator[QueryResult]:
    """Execute `sql` and yield its result while the connection is open. A workflow without
    outputs yet is not a table: naming it fails with "workflow 'x' has no outputs yet"."""

    def add_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
        files = _parquet_files(output_root / name)
        if files:
            _create_view(con, name, files)
        return bool(files)

    with query_views(workflows, sql, add_view) as result:
        yield result


@contextmanager
def query_views(
    workflows: Sequence[str],
    sql: str,
    add_view: Callable[[duckdb.DuckDBPyConnection, str], bool],
) -> Iterator[QueryResult]:
    """Execute `sql` after `add_view(con, workflow)` made a table of each workflow it names
    (False: that workflow has no outputs yet); yield the result while the connection is open.
    Shared by the local and the S3 query."""
    # No replacement scans: DuckDB would otherwise read a Python variable of this module
    # named like a table in the SQL (`SELECT * FROM files`) as that table. No progress bar:
    # on a terminal it would be drawn into the query's own output.
    con = duckdb.connect(":memory:")
    try:
        # (SET, not connect(config=...): that fails once the process has another connection.)
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        empty = [name for name in _named(workflows, sql) if not add_view(con, name)]
        try:
            cursor = con.execute(sql)
        except duckdb.CatalogException as exc:
            missing = [n for n in empty if re.search(rf"\b{re.escape(n)}\b", str(exc), re.I)]
            if missing:
                raise IngestflowError(f"workflow {missing[0]!r} has no outputs yet") from None
            raise IngestflowError(f"query failed: {exc}") from None
        except duckdb.Error as exc:
            raise IngestflowError(f"query failed: {exc}") from None
        if cursor.description is None:
            yield QueryResult([], None)
        else:
            yield QueryResult([d[0] for d in cursor.description], cursor)
    except duckdb.Error as exc:  # raised while fetching
        raise IngestflowError(f"query failed: {exc}") from None
    finally:
        con.close()


def _named(workflows: Sequence[str], sql: str) -> list[str]:
    """The workflows whose name appears in `sql` as a word (DuckDB names are case-insensitive);
    all of them when none does. Over-approximates (a column of that name counts): harmless."""
    named = [w for w in workflows if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", sql, re.I)]
    return named or list(workflows)


def _parquet_files(folder: Path) -> list[str]:
    """Every `*.parquet` file under `folder`, at any depth, sorted."""
    found: list[str] = []
    pending = [str(folder)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.name.endswith(".parquet") and entry.is_file():
                    found.append(entry.path)
    return sorted(found)


def _create_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str]) -> None:
    groups = _schema_groups(files)
    if groups is None:
        # union_by_name binds every file's footer; the cache lets the query's own bind (a
        # view is bound once when created, again when used) reuse them.
        con.execute("SET parquet_metadata_cache = true")
    reads = []
    for i, group in enumerate(groups or [files]):
        variable = f"ingestflow_files_{name}_{i}"
        con.execute(f"SET VARIABLE {ident(variable)} = ?", [[_glob_escape(f) for f in group]])
        reads.append(
            f"SELECT * FROM read_parquet(getvariable({literal(variable)}), "
            f"union_by_name = {'false' if groups else 'true'}, hive_partitioning = false)"
        )
    con.execute(f"CREATE VIEW {ident(name)} AS " + " UNION ALL BY NAME ".join(reads))


def _glob_escape(path: str) -> str:
    """A path DuckDB's glob matches literally: `*`, `?` and `[` each become a one-character
    class (`[*]`), the only way DuckDB offers (a backslash is not an escape there)."""
    return re.sub(r"([*?\[])", r"[\1]", path)


def _schema_groups(files: Sequence[str]) -> list[list[str]] | None:
    """`files` grouped by schema, groups in the order of their first file (so `UNION ALL BY
    NAME` of the groups orders columns as union_by_name over all files would). A file is in a
    group when its footer starts with the group's version and schema bytes (FileMetaData
    fields 1 and 2): parsing is deterministic, so those bytes mean exactly that schema. None
    (union everything by name, always right) when a footer cannot be parsed or there are more
    than _MAX_GROUPS schemas."""
    prefixes: list[bytes] = []
    groups: list[list[str]] = []
    for path in files:
        footer = _footer(path)
        for prefix, group in zip(prefixes, groups, strict=True):
            if footer.startswith(prefix):
                group.append(path)
                break
        else:
            end = _schema_end(footer)
            if not end or len(groups) == _MAX_GROUPS:
                return None
            prefixes.append(footer[:end])
            groups.append([path])
    return groups


def _footer(path: str) -> bytes:
    """The Thrift-encoded FileMetaData at the end of a Parquet file; b"" when unreadable."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _FOOTER_READ))
            tail = f.read()
            if size < 12 or tail[-4:] != b"PAR1":
                return b""
            length = int.from_bytes(tail[-8:-4], "little")
            if length + 8 > len(tail):
                if length + 12 > size:
                    return b""
                f.seek(size - 8 - length)
                tail = f.read(length + 8)
        return tail[-8 - length : -8]
    except OSError:
        return b""


def _schema_end(footer: bytes) -> int:
    """Where FileMetaData's schema (field 2) ends in `footer`; 0 when it cannot be found."""
    try:
        pos, field = 0, 0
        while footer[pos] != 0:  # a struct ends with a 0 byte
            pos, field, kind = _field_header(footer, pos, field)
            pos = _skip(footer, pos, kind)
            if field == 2:
                return pos
    except (IndexError, ValueError):
        pass
    return 0


# -- the Thrift compact protocol, just enough to skip values ---------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _field_header(buf: bytes, pos: int, last: int) -> tuple[int, int, int]:
    byte = buf[pos]
    delta, kind = byte >> 4, byte & 0x0F
    if delta:
        return pos + 1, last + delta, kind
    raw, pos = _varint(buf, pos + 1)
    return pos, (raw >> 1) ^ -(raw & 1), kind


def _skip(buf: bytes, pos: int, kind: int) -> int:
    """The position after one value of compact type `kind` starting at `pos`."""
    if kind in (1, 2):  # booleans in a field header carry their value in the type
        return pos
    if kind == 3:
        return pos + 1
    if kind in (4, 5, 6):
        return _varint(buf, pos)[1]
    if kind == 7:
        return pos + 8
    if kind == 8:
        length, pos = _varint(buf, pos)
        return pos + length
    if kind in (9, 10):
        header = buf[pos]
        count, element, pos = header >> 4, header & 0x0F, pos + 1
        if count == 15:
            count, pos = _varint(buf, pos)
        for _ in range(count):
            pos = pos + 1 if element in (1, 2) else _skip(buf, pos, element)
        return pos
    if kind == 11:
        count, pos = _varint(buf, pos)
        if count:
            types, pos = buf[pos], pos + 1
            for _ in range(count):
                pos = _skip(buf, _skip(buf, pos, types >> 4), types & 0x0F)
        return pos
    if kind == 12:
        field = 0
        while buf[pos] != 0:
            pos, field, inner = _field_header(buf, pos, field)
            pos = _skip(buf, pos, inner)
        return pos + 1
    raise ValueError(f"unknown thrift compact type {kind}")
