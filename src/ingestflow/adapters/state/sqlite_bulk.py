"""Transitions of many rows written by one INSERT…SELECT, their images built by SQLite from the
rows themselves: the hot paths (a claim, the successful files of a finished batch) move a
thousand files in one statement, and building and binding a thousand JSON images in Python was
most of their cost.

The images are the compact ones described in sqlite_rows, character for character the JSON a
reader parses back into the same values: text through `json_quote`, integers as digits, doubles
printed with 17 significant digits (`%!.17g`: exact on a round trip), NULL as `null`.

`transitions_sql(to_status, new, changed, rows)` is the statement: `new` maps record positions
to the SQL expressions of their new values (the others keep the row's value), `changed` the
positions the old image records (as ChangeWriter's `changed`), `rows` the FROM/WHERE/ORDER BY
clause choosing the rows, in the order their transitions are numbered. It must run *before*
the UPDATE that writes the new values: the row still holds the old ones. Named parameters
`:at` and `:reason` are the transitions' time and reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingestflow.adapters.state.sqlite_rows import (
    ATTEMPTS,
    BUCKET,
    KEY,
    PREFIX,
    STATUS,
    WORKFLOW,
)
from ingestflow.domain.records import RECORD_FIELDS

_TEXT, _INTEGER, _REAL = "text", "integer", "real"
_KINDS = {
    "bucket": _TEXT,
    "key": _TEXT,
    "workflow": _TEXT,
    "prefix": _TEXT,
    "size": _INTEGER,
    "etag": _TEXT,
    "upload_time": _REAL,
    "status": _TEXT,
    "attempts": _INTEGER,
    "batch_id": _TEXT,
    "lease_until": _REAL,
    "start_time": _REAL,
    "end_time": _REAL,
    "error": _TEXT,
    "output": _TEXT,
}
assert tuple(_KINDS) == RECORD_FIELDS, "a record column without a JSON format"
_KIND = tuple(_KINDS.values())
# The positions a compact new image holds (sqlite_rows: all but bucket, key, workflow, status).
_NEW_IMAGE = (*range(PREFIX, STATUS), *range(ATTEMPTS, len(RECORD_FIELDS)))


def json_value(expression: str, position: int) -> str:
    """SQL giving the JSON text of `expression`, a value of the record column at `position`."""
    kind = _KIND[position]
    if kind == _TEXT:
        return f"json_quote({expression})"  # NULL -> 'null'
    if kind == _INTEGER:
        return f"coalesce(CAST(({expression}) AS TEXT), 'null')"
    # printf('%g', NULL) prints 0.0: NULL is tested first.
    return f"CASE WHEN ({expression}) IS NULL THEN 'null' ELSE printf('%!.17g', {expression}) END"


def _column(position: int) -> str:
    return f"workflow_status.{RECORD_FIELDS[position]}"


def _json_text(opening: str, items: list[str], closing: str) -> str:
    """SQL concatenating JSON items (SQL expressions giving JSON text) into one array/object."""
    separated = [f"'{opening if n == 0 else ','}' || {item}" for n, item in enumerate(items)]
    return f"{' || '.join(separated)} || '{closing}'"


def transitions_sql(
    to_status: str, new: Mapping[int, str], changed: tuple[int, ...], rows: str
) -> str:
    """The INSERT…SELECT writing one transition per chosen row (see the module docstring)."""
    if not set(new) <= set(changed) or STATUS not in new:
        raise ValueError("new values must be among the changed positions, status included")
    old_image = _json_text(
        "{", [f"'\"{RECORD_FIELDS[i]}\":' || {json_value(_column(i), i)}" for i in changed], "}"
    )
    new_image = _json_text("[", [json_value(new.get(i, _column(i)), i) for i in _NEW_IMAGE], "]")
    columns = ", ".join(_column(i) for i in (BUCKET, KEY, WORKFLOW))
    return (
        "INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,"
        f" old_image, new_image) SELECT {columns}, {_column(STATUS)}, '{to_status}', :at,"
        f" :reason, {old_image}, {new_image} {rows}"
    )
