"""Batch readiness of a workflow with a completeness marker (`ready_marker`), and when age
makes a backlog ready (`age_deadline`); pure, `now` is an argument."""

from __future__ import annotations

from ingestflow.domain.batching import Backlog, age_deadline, readiness
from ingestflow.domain.workflow import Workflow

T0 = 1_700_000_000.0
MARKED = Workflow("w", "w/", batch_size=2, max_wait=60.0, max_batch_bytes=100, ready_marker="_OK")
REQUIRED = Workflow("w", "w/", max_wait=60.0, ready_marker="_OK", marker_required=True)
PLAIN = Workflow("w", "w/", batch_size=2, max_wait=60.0, max_batch_bytes=100)


def test_a_marked_folder_with_files_is_ready_whatever_count_bytes_and_age() -> None:
    assert readiness(MARKED, Backlog(1, 1, T0), T0, marked=True) == "marker"
    assert readiness(REQUIRED, Backlog(1, 1, T0), T0, marked=True) == "marker"


def test_count_and_bytes_never_make_a_marker_workflow_ready() -> None:
    assert readiness(MARKED, Backlog(50, 10_000, T0), T0 + 59) is None


def test_max_wait_flushes_a_marker_workflow_unless_the_marker_is_required() -> None:
    assert readiness(MARKED, Backlog(1, 1, T0), T0 + 60) == "max_wait"
    assert readiness(REQUIRED, Backlog(1, 1, T0), T0 + 10**9) is None
    assert readiness(MARKED, Backlog(0, 0, None), T0 + 10**9) is None


def test_the_marked_flag_changes_nothing_without_a_ready_marker() -> None:
    assert readiness(PLAIN, Backlog(1, 1, T0), T0, marked=True) is None
    assert readiness(PLAIN, Backlog(2, 1, T0), T0, marked=True) == "count"


def test_the_age_deadline_is_the_oldest_upload_plus_max_wait() -> None:
    assert age_deadline(PLAIN, Backlog(3, 1, T0)) == T0 + 60
    assert age_deadline(MARKED, Backlog(3, 1, T0)) == T0 + 60


def test_there_is_no_age_deadline_for_nothing_or_for_a_required_marker() -> None:
    assert age_deadline(PLAIN, Backlog(0, 0, None)) is None
    assert age_deadline(REQUIRED, Backlog(3, 1, T0)) is None
