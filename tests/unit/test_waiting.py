"""Why a workflow ran nothing: the line `run --once` prints per workflow with waiting files."""

from __future__ import annotations

import time

from ingestflow.domain.batching import Backlog
from ingestflow.domain.workflow import Workflow
from ingestflow.services.waiting import explain

NOW = time.mktime((2026, 12, 1, 20, 0, 0, 0, 0, -1))


def test_nothing_waiting_needs_no_explanation() -> None:
    assert explain(Workflow("ohlcv", "ohlcv/"), Backlog(0, 0, None), NOW) is None


def test_a_partial_batch_names_batch_size_and_the_max_wait_deadline() -> None:
    workflow = Workflow("ohlcv", "ohlcv/", batch_size=10, max_wait=137.0)
    line = explain(workflow, Backlog(2, 100, NOW - 5), NOW)
    assert line == "ohlcv: 2 files wait: batch_size 10, or by max_wait at 20:02:12"


def test_a_deadline_on_another_day_carries_its_date() -> None:
    workflow = Workflow("ohlcv", "ohlcv/", batch_size=10, max_wait=2 * 86400.0)
    line = explain(workflow, Backlog(1, 100, NOW), NOW)
    assert line == "ohlcv: 1 file wait: batch_size 10, or by max_wait at 2026-12-03 20:00:00"


def test_files_ready_by_size_but_not_claimed_are_retries_in_their_backoff() -> None:
    workflow = Workflow("ohlcv", "ohlcv/", batch_size=1, retry_backoff=5.0)
    line = explain(workflow, Backlog(3, 100, NOW - 1), NOW)
    assert line == "ohlcv: 3 files wait: retrying after backoff (retry_backoff 5s)"


def test_a_marker_workflow_says_which_marker_it_waits_for() -> None:
    loose = Workflow("daily", "daily/", max_wait=60.0, ready_marker="_SUCCESS")
    assert explain(loose, Backlog(4, 1, NOW), NOW) == (
        "daily: 4 files wait for '_SUCCESS' in their folder, or by max_wait at 20:01:00"
    )
    strict = Workflow("daily", "daily/", ready_marker="_SUCCESS", marker_required=True)
    assert explain(strict, Backlog(4, 1, NOW), NOW) == (
        "daily: 4 files wait for '_SUCCESS' in their folder (marker_required)"
    )
