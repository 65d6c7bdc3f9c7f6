"""Why one ledger file is where it is: the sentence the file page (and the CLI) shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ingestflow.domain.batching import Backlog, retry_delay
from ingestflow.domain.explain import Explanation, clock, duration, explain_file
from ingestflow.domain.records import FileRecord, Transition
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import MAX_DURATION, Workflow

NOW = datetime(2026, 12, 2, 14, 0, 0, tzinfo=UTC).timestamp()
WORKFLOW = Workflow("ohlcv", "ohlcv/", batch_size=10, max_wait=300.0, retry_backoff=5.0)
MARKED = replace(WORKFLOW, ready_marker="_SUCCESS")
TODO = FileRecord(
    bucket="landing",
    key="ohlcv/2026/12/02/a.csv",
    workflow="ohlcv",
    prefix="ohlcv/2026/12/02/",
    size=100,
    etag="e1",
    upload_time=NOW - 60,
    status=Status.TODO,
)


def at(hh_mm_ss: str) -> float:
    """An epoch time on NOW's day, from 'HH:MM:SS' (UTC)."""
    h, m, s = (int(part) for part in hh_mm_ss.split(":"))
    return datetime(2026, 12, 2, h, m, s, tzinfo=UTC).timestamp()


def change(
    old: FileRecord | None, new: FileRecord, when: float, reason: str, id: int = 1
) -> Transition:
    """A transition from `old` (None: a new record) to `new`, as the ledger writes it."""
    return Transition(
        id,
        new.bucket,
        new.key,
        new.workflow,
        None if old is None else old.status,
        new.status,
        when,
        reason,
        None if old is None else old.as_dict(),
        new.as_dict(),
    )


def retried(
    attempts: int, failed_at: float, error: str | None = "I/O error"
) -> tuple[FileRecord, list[Transition]]:
    """A file back in TODO after a retryable failure on attempt `attempts`, and its history."""
    running = replace(
        TODO, status=Status.PROCESSING, attempts=attempts, batch_id="b1", lease_until=NOW + 300
    )
    back = replace(running, status=Status.TODO, batch_id=None, lease_until=None, error=error)
    history = [
        change(None, TODO, TODO.upload_time, "registered", 1),
        change(TODO, running, failed_at - 1, "claimed", 2),
        change(running, back, failed_at, "retryable failure", 3),
    ]
    return back, history


# -- retry_delay and the formatting helpers ---------------------------------------------------


def test_the_retry_delay_doubles_with_each_attempt_from_the_retry_backoff() -> None:
    assert [retry_delay(WORKFLOW, n) for n in (0, 1, 2, 3, 4)] == [5.0, 5.0, 10.0, 20.0, 40.0]


def test_the_retry_delay_is_capped_at_max_duration_however_many_attempts() -> None:
    assert retry_delay(WORKFLOW, 30) == MAX_DURATION
    assert retry_delay(WORKFLOW, 10**9) == MAX_DURATION  # the exponent is capped: no overflow
    assert retry_delay(replace(WORKFLOW, retry_backoff=MAX_DURATION), 2) == MAX_DURATION


def test_a_clock_time_is_utc_with_its_date() -> None:
    assert clock(at("14:05:00")) == "2026-12-02 14:05:00 UTC"


def test_a_time_beyond_what_datetime_holds_shows_as_epoch_seconds() -> None:
    assert clock(1e20) == "epoch 100000000000000000000 s"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.25 s"),
        (45, "45 s"),
        (90, "1.5 min"),
        (180, "3 min"),
        (7200, "2 h"),
        (4 * 86400, "4 d"),
        (-3, "0 s"),
    ],
)
def test_a_duration_takes_its_short_form(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# -- TODO -------------------------------------------------------------------------------------


def test_a_waiting_file_names_the_count_batch_size_and_max_wait_deadline() -> None:
    backlog = Backlog(3, 300, at("14:00:00"))
    explained = explain_file(TODO, WORKFLOW, backlog, [], NOW)
    assert explained == Explanation(
        "waiting",
        "waiting: 3 of batch_size 10, ready by max_wait at 2026-12-02 14:05:00 UTC",
        at("14:05:00"),
    )


def test_without_a_backlog_the_file_alone_bounds_the_max_wait_deadline() -> None:
    explained = explain_file(TODO, WORKFLOW, None, [], NOW)
    assert explained.text == "waiting: batch_size 10, ready by max_wait at 2026-12-02 14:04:00 UTC"
    assert explained.until == TODO.upload_time + WORKFLOW.max_wait


def test_a_marker_workflows_file_waits_for_the_marker_or_max_wait() -> None:
    explained = explain_file(TODO, MARKED, Backlog(4, 400, at("13:59:00")), [], NOW)
    assert explained == Explanation(
        "waiting",
        "waiting for marker '_SUCCESS' in its folder, or by max_wait at 2026-12-02 14:04:00 UTC",
        at("14:04:00"),
    )


def test_when_the_marker_is_required_only_the_marker_makes_it_ready() -> None:
    strict = replace(MARKED, marker_required=True)
    explained = explain_file(TODO, strict, Backlog(4, 400, NOW - 3600), [], NOW)
    assert explained == Explanation(
        "waiting", "waiting for marker '_SUCCESS' in its folder (marker_required)", None
    )


@pytest.mark.parametrize(
    ("workflow", "backlog", "marked", "why"),
    [
        (WORKFLOW, Backlog(10, 1000, NOW - 1), False, "count"),
        (replace(WORKFLOW, max_batch_bytes=500), Backlog(3, 600, NOW - 1), False, "bytes"),
        (WORKFLOW, Backlog(3, 300, NOW - 300), False, "max_wait"),
        (MARKED, Backlog(3, 300, NOW - 1), True, "marker"),
    ],
)
def test_a_file_whose_batch_is_ready_is_claimed_by_the_next_pass(
    workflow: Workflow, backlog: Backlog, marked: bool, why: str
) -> None:
    explained = explain_file(TODO, workflow, backlog, [], NOW, marked=marked)
    assert explained == Explanation(
        "ready", f"ready ({why}): the next scheduler pass claims it", None
    )


def test_a_retried_file_waits_out_its_backoff_with_the_attempts_error() -> None:
    record, history = retried(attempts=1, failed_at=NOW - 2)
    explained = explain_file(record, WORKFLOW, Backlog(0, 0, None), history, NOW)
    assert explained == Explanation(
        "backoff",
        "retrying after backoff until 2026-12-02 14:00:03 UTC (attempt 1 of 3 failed: I/O error)",
        NOW + 3,
    )


def test_the_backoff_of_a_later_attempt_is_longer() -> None:
    record, history = retried(attempts=2, failed_at=NOW - 6, error=None)
    explained = explain_file(record, WORKFLOW, None, history, NOW)
    assert explained.state == "backoff"
    assert explained.until == NOW - 6 + 10.0
    assert explained.text.endswith("(attempt 2 of 3 failed)")


def test_once_its_backoff_is_over_a_retried_file_waits_like_any_other() -> None:
    record, history = retried(attempts=1, failed_at=NOW - 5)
    explained = explain_file(record, WORKFLOW, Backlog(2, 200, at("13:59:00")), history, NOW)
    assert explained.state == "waiting"
    assert explained.text.startswith("waiting: 2 of batch_size 10")


def test_a_later_change_of_the_file_ends_its_backoff() -> None:
    record, history = retried(attempts=1, failed_at=NOW - 2)
    running = replace(record, status=Status.PROCESSING, attempts=2, batch_id="b2")
    expired = replace(running, status=Status.TODO, batch_id=None, error="lease expired")
    history += [
        change(record, running, NOW - 1, "claimed", 4),
        change(running, expired, NOW, "lease expired", 5),
    ]
    assert explain_file(expired, WORKFLOW, None, history, NOW).state == "waiting"


def test_another_files_retryable_failure_is_not_this_files_backoff() -> None:
    _, history = retried(attempts=1, failed_at=NOW - 2)
    history = [replace(t, key="ohlcv/2026/12/02/b.csv") for t in history]
    assert explain_file(TODO, WORKFLOW, None, history, NOW).state == "waiting"


# -- PROCESSING -------------------------------------------------------------------------------

RUNNING = replace(
    TODO,
    status=Status.PROCESSING,
    attempts=1,
    batch_id="b-42",
    start_time=at("13:58:00"),
    lease_until=at("14:03:00"),
)


def test_a_processing_file_names_its_batch_start_and_lease() -> None:
    assert explain_file(RUNNING, WORKFLOW, None, [], NOW) == Explanation(
        "processing",
        "processing in batch b-42 since 2026-12-02 13:58:00 UTC,"
        " lease until 2026-12-02 14:03:00 UTC",
        at("14:03:00"),
    )


def test_a_processing_retry_names_its_attempt() -> None:
    explained = explain_file(replace(RUNNING, attempts=2), WORKFLOW, None, [], NOW)
    assert explained.text.endswith(", lease until 2026-12-02 14:03:00 UTC (attempt 2 of 3)")


def test_a_processing_file_past_its_lease_goes_back_to_todo_at_the_next_pass() -> None:
    stuck = replace(RUNNING, lease_until=at("13:57:00"))
    assert explain_file(stuck, WORKFLOW, None, [], NOW) == Explanation(
        "lease_expired",
        "lease expired 3 min ago at 2026-12-02 13:57:00 UTC: the worker is gone or stuck;"
        " the next pass returns it to TODO",
        None,
    )


def test_a_lease_expired_on_the_last_attempt_fails_the_file_at_the_next_pass() -> None:
    stuck = replace(RUNNING, attempts=3, lease_until=NOW - 45)
    explained = explain_file(stuck, WORKFLOW, None, [], NOW)
    assert explained.state == "lease_expired"
    assert explained.text.startswith("lease expired 45 s ago")
    assert explained.text.endswith("; the next pass fails it (attempt 3 of 3)")


# -- DONE and FAILED --------------------------------------------------------------------------

DONE = replace(
    RUNNING,
    status=Status.DONE,
    batch_id=None,
    lease_until=None,
    end_time=at("13:59:30"),
    output="out/ohlcv/part-0.parquet",
)
FAILED = replace(DONE, status=Status.FAILED, attempts=3, output=None, error="column 'x': <bad>")


def test_a_done_file_names_when_how_long_and_its_output() -> None:
    assert explain_file(DONE, WORKFLOW, None, [], NOW) == Explanation(
        "done", "done at 2026-12-02 13:59:30 UTC in 1.5 min, output out/ohlcv/part-0.parquet", None
    )


def test_a_done_file_without_output_leaves_the_output_out() -> None:
    explained = explain_file(replace(DONE, output=None), WORKFLOW, None, [], NOW)
    assert explained.text == "done at 2026-12-02 13:59:30 UTC in 1.5 min"


def test_a_failed_file_shows_its_error_as_is_last_with_how_to_retry_it() -> None:
    assert explain_file(FAILED, WORKFLOW, None, [], NOW) == Explanation(
        "failed", "FAILED after 3 attempts (retry it to run it again): column 'x': <bad>", None
    )


def test_a_file_failed_on_its_only_attempt_without_an_error_says_so() -> None:
    explained = explain_file(replace(FAILED, attempts=1, error=None), WORKFLOW, None, [], NOW)
    assert explained.text == "FAILED after 1 attempt (retry it to run it again): no error recorded"


# -- a workflow no longer configured ----------------------------------------------------------


def test_a_waiting_file_of_a_workflow_no_longer_configured_is_never_claimed() -> None:
    assert explain_file(TODO, None, None, [], NOW) == Explanation(
        "unknown_workflow",
        "its workflow 'ohlcv' is no longer configured, so no pass claims it",
        None,
    )


def test_a_processing_file_of_a_workflow_no_longer_configured_names_its_batch() -> None:
    explained = explain_file(RUNNING, None, None, [], NOW)
    assert explained.state == "unknown_workflow"
    assert "batch b-42 holds it" in explained.text


@pytest.mark.parametrize("record", [DONE, FAILED], ids=["done", "failed"])
def test_an_ended_file_of_a_workflow_no_longer_configured_keeps_its_facts(
    record: FileRecord,
) -> None:
    explained = explain_file(record, None, None, [], NOW)
    assert explained.state == "unknown_workflow"
    assert explained.text.startswith("its workflow 'ohlcv' is no longer configured; ")
    assert explained.text.endswith("part-0.parquet" if record is DONE else ": column 'x': <bad>")
