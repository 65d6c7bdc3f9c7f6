"""Stale detection: files that wait or run far longer than their workflow allows."""

from __future__ import annotations

from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status


def is_stale(record: FileRecord, stale_after: float, now: float) -> bool:
    """A TODO file older than `stale_after`, or a PROCESSING file whose lease has expired."""
    if record.status is Status.TODO:
        return now - record.upload_time >= stale_after
    if record.status is Status.PROCESSING:
        return record.lease_until is not None and record.lease_until < now
    return False
