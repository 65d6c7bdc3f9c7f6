"""One page of ledger files for the dashboard and its API: the filters of `ingestflow files`
plus a key substring and an upload-time range, keyset-paginated on the ledger's
(upload_time, key) order.

The time range is part of the keyset: `since` starts the read at (since, "") — every key is
non-empty, so that includes files uploaded at `since` — and the page ends at the first record
uploaded at or after `until`; both use the ledger's indexes.

The substring filter cannot use an index, so it is applied while paging: the ledger is read
forward in chunks from the cursor (one stream per status, merged) until the page holds
`limit` matches, the ledger ends, or `max_scan` rows were read. In the last case the page may
hold fewer matches (even none) and `next_after` still continues the scan where it stopped, so
a request's cost stays bounded at any ledger size and a caller that follows `next_after` sees
every match exactly once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status
from ingestflow.ports import StatusStore

MAX_SCAN = 20_000  # ledger rows read per page when a substring filter is given
_CHUNK = 1000  # rows per ledger read while scanning for substring matches

Cursor = tuple[float, str]
"""A keyset position: the (upload_time, key) of the last record a page covered."""


@dataclass(frozen=True, slots=True)
class FilePage:
    """Up to `limit` records in ledger order; `next_after` is where the next page starts (None
    when the ledger holds nothing more that matches)."""

    files: list[FileRecord]
    next_after: Cursor | None


def _position(record: FileRecord) -> Cursor:
    return (record.upload_time, record.key)


def _before(rows: list[FileRecord], until: float | None) -> list[FileRecord]:
    """The leading `rows` uploaded before `until` (rows are in upload order)."""
    if until is None or not rows or rows[-1].upload_time < until:
        return rows
    return [r for r in rows if r.upload_time < until]


def file_page(
    store: StatusStore,
    limit: int,
    status: Status | None = None,
    prefix: str | None = None,
    workflow: str | None = None,
    query: str | None = None,
    after: Cursor | None = None,
    max_scan: int = MAX_SCAN,
    since: float | None = None,
    until: float | None = None,
) -> FilePage:
    """The page after `after`. `query` keeps records whose key contains it, compared
    case-insensitively (`str.casefold`); `since <= upload_time < until` when given. `limit`
    and `max_scan` are at least 1."""
    if limit < 1 or max_scan < 1:
        raise ValueError(f"limit and max_scan must be at least 1: {limit!r}, {max_scan!r}")
    if since is not None and (after is None or after < (since, "")):
        after = (since, "")
    if not query:
        # One read of limit + 1 rows: the extra row says whether a next page exists, so the
        # last page has no cursor (no empty page to fetch).
        rows = store.files(status, prefix, workflow, limit=limit + 1, after=after)
        inside = _before(rows, until)
        more = len(inside) > limit
        return FilePage(inside[:limit], _position(inside[limit - 1]) if more else None)
    needle = query.casefold()
    found: list[FileRecord] = []
    # One stream per status, merged here in ledger order: `store.files` without a status
    # would read `limit` rows from every status range per call and keep only `limit`.
    statuses = [status] if status is not None else list(Status)
    chunk = min(_CHUNK, max_scan)
    streams = [_stream(store, s, prefix, workflow, after, chunk) for s in statuses]
    for scanned, row in enumerate(heapq.merge(*streams, key=_position), start=1):
        if until is not None and row.upload_time >= until:
            return FilePage(found, None)  # the time range ends here
        if needle in row.key.casefold():
            if len(found) == limit:  # one match past the page: there is a next page
                return FilePage(found, _position(found[-1]))
            found.append(row)
        if scanned >= max_scan:
            return FilePage(found, _position(row))  # budget spent: continue after this row
    return FilePage(found, None)  # the ledger ends here


def _stream(
    store: StatusStore,
    status: Status,
    prefix: str | None,
    workflow: str | None,
    after: Cursor | None,
    chunk: int,
) -> Iterator[FileRecord]:
    """The records of one status after `after`, in ledger order, read `chunk` rows at a time."""
    position = after
    while True:
        rows = store.files(status, prefix, workflow, limit=chunk, after=position)
        yield from rows
        if len(rows) < chunk:
            return
        position = _position(rows[-1])
