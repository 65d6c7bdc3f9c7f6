"""The overview's window of ended files: `Activity` (pure: hourly buckets, folders' processing
times, bytes by file type, last failures, last batches) and `ActivityFeed`, which keeps it up
to date from a real SQLite ledger's change stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.activity import HOUR, Activity, BatchRun, FolderTimes, hour_of
from ingestflow.domain.metric_summary import Durations
from ingestflow.domain.metrics import MetricsContext, file_metrics
from ingestflow.domain.records import FileOutcome, ObjectInfo, Transition
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.services.activity_feed import ActivityFeed

CONTEXT = MetricsContext(env="test", prefixes={"ohlcv": "ohlcv/", "trades": "trades/"})
BASE = 1_800_000_000 // 3600 * 3600.0  # the start of an hour
NOW = BASE + 2 * HOUR + 1800  # half past the third hour of a 3-hour window


def ended(
    key: str,
    at: float,
    *,
    failed: bool = False,
    workflow: str = "ohlcv",
    size: int = 100,
    upload: float | None = None,
    start: float | None = None,
    batch_id: str | None = None,
    error: Any = "boom",
) -> Transition:
    """The `-> DONE` (or `-> FAILED`) transition of one file ending at `at`."""
    new = {
        "key": key,
        "workflow": workflow,
        "size": size,
        "upload_time": upload,
        "start_time": start,
        "end_time": at,
        "batch_id": batch_id,
        "error": error if failed else None,
    }
    status = Status.FAILED if failed else Status.DONE
    return Transition(0, "landing", key, workflow, Status.PROCESSING, status, at, "x", None, new)


def add(activity: Activity, *transitions: Transition) -> None:
    for t in transitions:
        metrics = file_metrics(t, CONTEXT)
        assert metrics is not None
        activity.add(t, metrics)


# -- hours --------------------------------------------------------------------------------------


def test_hour_of_is_the_start_of_the_utc_hour() -> None:
    assert hour_of(BASE) == BASE
    assert hour_of(BASE + HOUR - 0.001) == BASE
    assert hour_of(BASE + HOUR) == BASE + HOUR


def test_files_land_in_the_hour_they_ended_and_empty_hours_are_present() -> None:
    activity = Activity(window_hours=3)
    add(
        activity,
        ended("ohlcv/a/1.csv", BASE + 10, upload=BASE),
        ended("ohlcv/a/2.csv", BASE + 20, failed=True),
        ended("ohlcv/a/3.csv", BASE + 2 * HOUR + 5, upload=BASE + 2 * HOUR, size=50),
        ended("ohlcv/a/4.csv", BASE + 2 * HOUR + 1799, upload=BASE + 2 * HOUR, size=70),
    )
    snapshot = activity.snapshot(NOW)
    assert (snapshot.now, snapshot.window_hours) == (NOW, 3)
    assert [h.start for h in snapshot.hours] == [BASE, BASE + HOUR, BASE + 2 * HOUR]
    assert [h.done for h in snapshot.hours] == [1, 0, 2]
    assert [h.failed for h in snapshot.hours] == [1, 0, 0]
    assert [h.bytes for h in snapshot.hours] == [100, 0, 120]  # a FAILED file adds no bytes
    assert [h.latency for h in snapshot.hours] == [
        Durations(10.0, 10.0, 10.0),
        Durations(),
        Durations(902.0, 5.0, 1799.0),
    ]
    assert snapshot.files_ended == 4


def test_an_empty_window_has_every_hour_with_nothing_in_it() -> None:
    snapshot = Activity(window_hours=24).snapshot(NOW)
    assert len(snapshot.hours) == 24
    assert snapshot.hours[-1].start == hour_of(NOW)
    assert all(
        (h.done, h.failed, h.bytes, h.latency) == (0, 0, 0, Durations()) for h in snapshot.hours
    )
    assert (snapshot.folders, snapshot.bytes_by_type, snapshot.failures) == ((), (), ())
    assert snapshot.batches == {}
    assert snapshot.files_ended == 0


def test_the_oldest_hour_drops_out_as_time_passes_and_is_forgotten() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/1.csv", BASE + 10), ended("ohlcv/a/2.csv", BASE + HOUR + 10))
    later = activity.snapshot(NOW + HOUR)
    assert [h.start for h in later.hours] == [BASE + HOUR, BASE + 2 * HOUR, BASE + 3 * HOUR]
    assert [h.done for h in later.hours] == [1, 0, 0]
    assert later.files_ended == 1
    # Pruned, not just hidden: the values of a dropped hour are not kept.
    assert [h.done for h in activity.snapshot(NOW).hours] == [0, 1, 0]
    assert activity.snapshot(NOW + 3 * HOUR).files_ended == 0


def test_a_file_stamped_in_a_later_hour_shows_when_that_hour_comes() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/1.csv", NOW + HOUR))  # another machine's clock runs ahead
    assert activity.snapshot(NOW).files_ended == 0
    assert [h.done for h in activity.snapshot(NOW + HOUR).hours] == [0, 0, 1]


def test_a_file_that_ended_before_the_window_is_not_counted() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/old.csv", BASE - 1, failed=True, batch_id="b0"))
    snapshot = activity.snapshot(NOW)
    assert snapshot.files_ended == 0
    assert snapshot.failures == ()
    assert snapshot.batches == {"ohlcv": ()}


def test_window_failures_and_batches_must_be_at_least_one() -> None:
    for kwargs in ({"window_hours": 0}, {"failures": 0}, {"batches": 0}):
        with pytest.raises(ValueError, match="at least 1"):
            Activity(**kwargs)


# -- folders and file types ---------------------------------------------------------------------


def test_processing_times_per_folder_are_nearest_rank_percentiles_over_the_window() -> None:
    activity = Activity(window_hours=3)
    for i in range(1, 21):  # 1..20 s in ohlcv/a, spread over two hours
        at = BASE + (10 if i <= 10 else 2 * HOUR + 10) + i
        add(activity, ended(f"ohlcv/a/x/{i}.csv", at, start=at - i))
    for i, seconds in enumerate((4.0, 1.0, 3.0, 2.0)):
        add(activity, ended(f"ohlcv/b/{i}.csv", BASE + 100, start=BASE + 100 - seconds))
    add(activity, ended("trades/Q 1/t.csv", BASE + 50, workflow="trades", start=BASE + 43))
    add(activity, ended("ohlcv/b/f.csv", BASE + 60, failed=True, start=BASE))  # no duration
    add(activity, ended("ohlcv/c/n.csv", BASE + 70))  # no start time: no processing time
    assert activity.snapshot(NOW).folders == (
        FolderTimes("ohlcv", "ohlcv/a", 20, Durations(10.5, 10.0, 19.0)),
        FolderTimes("ohlcv", "ohlcv/b", 4, Durations(2.5, 2.0, 4.0)),  # p50 is observed: 2
        FolderTimes("trades", "trades/q_1", 1, Durations(7.0, 7.0, 7.0)),  # tag values
    )


def test_bytes_by_file_type_are_summed_and_sorted_largest_first() -> None:
    activity = Activity(window_hours=3)
    add(
        activity,
        ended("ohlcv/a/1.csv", BASE + 1, size=200),
        ended("ohlcv/a/2.csv", BASE + 2 * HOUR, size=100),
        ended("ohlcv/a/3.csv.gz", BASE + 3, size=500),
        ended("ohlcv/a/4.json", BASE + 4, size=300),
        ended("ohlcv/a/5", BASE + 5, size=10),
        ended("ohlcv/a/6.parquet", BASE + 6, size=9999, failed=True),
    )
    assert activity.snapshot(NOW).bytes_by_type == (
        ("csv.gz", 500),
        ("csv", 300),  # ties by name
        ("json", 300),
        ("none", 10),
    )


# -- failures -----------------------------------------------------------------------------------


def test_the_last_failures_are_newest_first_and_capped() -> None:
    activity = Activity(window_hours=3, failures=3)
    for i in range(5):
        add(activity, ended(f"ohlcv/a/{i}.csv", BASE + 100 * i, failed=True, error=f"e{i}"))
    add(activity, ended("ohlcv/a/ok.csv", BASE + 600))
    failures = activity.snapshot(NOW).failures
    assert [(f.key, f.error, f.at) for f in failures] == [
        ("ohlcv/a/4.csv", "e4", BASE + 400),
        ("ohlcv/a/3.csv", "e3", BASE + 300),
        ("ohlcv/a/2.csv", "e2", BASE + 200),
    ]
    assert {f.workflow for f in failures} == {"ohlcv"}
    assert [h.failed for h in activity.snapshot(NOW).hours] == [5, 0, 0]  # counted, not capped


def test_a_failure_without_a_text_error_shows_an_empty_error() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/1.csv", BASE + 1, failed=True, error=None))
    assert [f.error for f in activity.snapshot(NOW).failures] == [""]


def test_failures_older_than_the_window_leave_the_list() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/1.csv", BASE + 1, failed=True))
    add(activity, ended("ohlcv/a/2.csv", BASE + HOUR + 1, failed=True))
    assert [f.key for f in activity.snapshot(NOW + HOUR).failures] == ["ohlcv/a/2.csv"]


# -- batches ------------------------------------------------------------------------------------


def test_files_are_grouped_into_batches_with_their_span() -> None:
    activity = Activity(window_hours=3)
    add(
        activity,
        ended("ohlcv/a/1.csv", BASE + 100, start=BASE + 50, batch_id="b1"),
        ended("ohlcv/a/2.csv", BASE + 160, start=BASE + 40, batch_id="b1", failed=True),
        ended("ohlcv/a/3.csv", BASE + 130, start=BASE + 60, batch_id="b1"),
        ended("ohlcv/a/4.csv", BASE + 200, batch_id="b2"),  # no start time recorded
        ended("ohlcv/a/5.csv", BASE + 300, start=BASE + 290),  # no batch: not a run
        ended("trades/t.csv", BASE + 400, start=BASE + 399, batch_id="t1", workflow="trades"),
    )
    batches = activity.snapshot(NOW).batches
    assert batches == {
        "ohlcv": (
            BatchRun("b2", "ohlcv", None, BASE + 200, done=1, failed=0),
            BatchRun("b1", "ohlcv", BASE + 40, BASE + 160, done=2, failed=1),
        ),
        "trades": (BatchRun("t1", "trades", BASE + 399, BASE + 400, done=1),),
    }
    assert batches["ohlcv"][1].duration == 120.0
    assert batches["ohlcv"][0].duration is None
    assert batches["trades"][0].duration == 1.0


def test_a_batch_whose_start_is_after_its_end_lasts_zero_seconds() -> None:
    run = BatchRun("b", "ohlcv", BASE + 10, BASE + 5)  # clocks of two machines
    assert run.duration == 0.0


def test_only_the_last_batches_of_each_workflow_are_kept() -> None:
    activity = Activity(window_hours=3, batches=2)
    for i in range(7):
        add(activity, ended(f"ohlcv/a/{i}.csv", BASE + 100 * i, start=BASE, batch_id=f"b{i}"))
        add(activity, ended(f"trades/{i}.csv", BASE + 10 * i, workflow="trades", batch_id=f"t{i}"))
    batches = activity.snapshot(NOW).batches
    assert [r.batch_id for r in batches["ohlcv"]] == ["b6", "b5"]
    assert [r.batch_id for r in batches["trades"]] == ["t6", "t5"]


def test_batches_that_ended_before_the_window_leave_it() -> None:
    activity = Activity(window_hours=3)
    add(activity, ended("ohlcv/a/1.csv", BASE + 10, batch_id="b1"))
    add(activity, ended("ohlcv/a/2.csv", BASE + HOUR + 10, batch_id="b2"))
    assert [r.batch_id for r in activity.snapshot(NOW + HOUR).batches["ohlcv"]] == ["b2"]


# -- the feed over a real ledger ----------------------------------------------------------------

WORKFLOW = Workflow("ohlcv", "ohlcv/", batch_size=2, max_batch_files=2, max_wait=0.0)
FEED_NOW = BASE + 600  # ten minutes into an hour


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        store.sync_workflows([WORKFLOW])
        yield store
    finally:
        store.close()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_batch(store: SqliteStatusStore, claimed_at: float, ended_at: float) -> list[str]:
    """Claim the two oldest TODO files and end the first DONE, the second FAILED."""
    batch = store.claim(WORKFLOW, claimed_at, "worker")
    assert batch is not None and len(batch.files) == 2
    first, second = batch.files
    outcomes = [
        FileOutcome.done(first.key, first.etag, f"out/{first.key}", rows=1),
        FileOutcome.failed(second.key, second.etag, f"bad {second.key}", retryable=False),
    ]
    store.finish(WORKFLOW, batch.batch_id, outcomes, ended_at)
    return [first.key, second.key]


def register(store: SqliteStatusStore, count: int, at: float) -> None:
    infos = [(ObjectInfo(f"ohlcv/d/{at:.0f}-{i}.csv", 10, "v1", at), "ohlcv") for i in range(count)]
    store.register("landing", infos, at)


def test_the_feed_reads_the_ledgers_window_and_then_only_what_is_new(
    store: SqliteStatusStore,
) -> None:
    register(store, 6, FEED_NOW - 7200)
    first = run_batch(store, FEED_NOW - 3600, FEED_NOW - 3590)
    clock = Clock(FEED_NOW)
    feed = ActivityFeed(store, CONTEXT, clock=clock, page=1)  # one transition per read
    snapshot = feed.snapshot()
    assert snapshot.files_ended == 2
    assert [f.key for f in snapshot.failures] == [first[1]]
    second = run_batch(store, FEED_NOW - 60, FEED_NOW - 50)
    third = run_batch(store, FEED_NOW - 40, FEED_NOW - 30)
    snapshot = feed.snapshot()
    assert snapshot.files_ended == 6  # not 8: the first batch is not read again
    assert sum(h.bytes for h in snapshot.hours) == 30
    assert [f.key for f in snapshot.failures] == [third[1], second[1], first[1]]
    assert len(snapshot.batches["ohlcv"]) == 3
    assert feed.snapshot().files_ended == 6  # nothing new: nothing added


def test_the_feed_reads_files_stamped_ahead_of_its_clock(store: SqliteStatusStore) -> None:
    register(store, 4, FEED_NOW - 7200)
    run_batch(store, FEED_NOW + 2900, FEED_NOW + 3000)  # another machine: the next hour
    run_batch(store, FEED_NOW - 100, FEED_NOW - 90)
    clock = Clock(FEED_NOW)
    feed = ActivityFeed(store, CONTEXT, clock=clock)
    assert feed.snapshot().files_ended == 2
    clock.now = FEED_NOW + HOUR
    assert feed.snapshot().files_ended == 4


def test_the_feed_forgets_what_left_its_window(store: SqliteStatusStore) -> None:
    register(store, 2, FEED_NOW - 7200)
    run_batch(store, FEED_NOW - 3600, FEED_NOW - 3590)
    clock = Clock(FEED_NOW)
    feed = ActivityFeed(store, CONTEXT, window_hours=2, clock=clock)
    assert feed.snapshot().files_ended == 2
    clock.now = FEED_NOW + 2 * HOUR
    snapshot = feed.snapshot()
    assert (snapshot.files_ended, snapshot.failures, snapshot.window_hours) == (0, (), 2)


def test_a_first_snapshot_skips_files_that_ended_before_the_window(
    store: SqliteStatusStore,
) -> None:
    register(store, 4, FEED_NOW - 5 * 86400)
    run_batch(store, FEED_NOW - 3 * 86400, FEED_NOW - 3 * 86400 + 5)
    run_batch(store, FEED_NOW - 600, FEED_NOW - 500)
    feed = ActivityFeed(store, CONTEXT, clock=Clock(FEED_NOW))
    assert feed.snapshot().files_ended == 2
