"""Stale files: TODO files waiting longer than stale_after, PROCESSING files with expired leases."""

from __future__ import annotations

import pytest
from unit_support import make_record

from ingestflow.domain.stale import is_stale
from ingestflow.domain.status import Status

HOUR = 3600.0


def test_a_todo_file_becomes_stale_once_it_waited_stale_after() -> None:
    record = make_record(Status.TODO, upload_time=1000.0)
    assert not is_stale(record, stale_after=HOUR, now=1000.0 + HOUR - 0.001)
    assert is_stale(record, stale_after=HOUR, now=1000.0 + HOUR)
    assert is_stale(record, stale_after=HOUR, now=1000.0 + 10 * HOUR)


def test_a_todo_file_is_judged_by_age_not_by_a_leftover_lease() -> None:
    record = make_record(Status.TODO, upload_time=1000.0, lease_until=1.0)
    assert not is_stale(record, stale_after=HOUR, now=1001.0)


def test_a_processing_file_is_stale_only_once_its_lease_expired() -> None:
    record = make_record(Status.PROCESSING, upload_time=0.0, lease_until=500.0)
    assert not is_stale(record, stale_after=HOUR, now=499.0)
    assert not is_stale(record, stale_after=HOUR, now=500.0)
    assert is_stale(record, stale_after=HOUR, now=500.001)


def test_a_processing_file_with_a_live_lease_is_not_stale_however_old_it_is() -> None:
    record = make_record(Status.PROCESSING, upload_time=0.0, lease_until=1e9 + 60)
    assert not is_stale(record, stale_after=HOUR, now=1e9)


def test_a_processing_file_without_a_lease_is_not_stale() -> None:
    record = make_record(Status.PROCESSING, upload_time=0.0, lease_until=None)
    assert not is_stale(record, stale_after=HOUR, now=1e9)


@pytest.mark.parametrize("status", [Status.DONE, Status.FAILED], ids=str)
def test_finished_files_are_never_stale(status: Status) -> None:
    record = make_record(status, upload_time=0.0, lease_until=1.0)
    assert not is_stale(record, stale_after=1.0, now=1e9)
