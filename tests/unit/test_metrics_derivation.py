"""Metric derivation from transitions (domain.metrics): values, bounded tags, count buckets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain import metrics as m
from ingestflow.domain.records import Transition
from ingestflow.domain.status import Status

T0 = 1_700_000_040.0
CONTEXT = m.MetricsContext(env="prod", prefixes={"ohlcv": "ohlcv/"}, folder_depth=2)


def ended(
    key: str = "ohlcv/2024/01/02/EURUSD.csv",
    status: Status = Status.DONE,
    at: float = T0,
    error: str | None = None,
    **image: Any,
) -> Transition:
    new = {
        "bucket": "landing",
        "key": key,
        "workflow": "ohlcv",
        "prefix": key.rsplit("/", 1)[0] + "/",
        "size": 2048,
        "etag": "v1",
        "upload_time": at - 60.0,
        "status": status.value,
        "attempts": 1,
        "batch_id": "b1",
        "lease_until": None,
        "start_time": at - 5.0,
        "end_time": at,
        "error": error,
        "output": None,
    } | image
    return Transition(
        1, "landing", key, "ohlcv", Status.PROCESSING, status, at, "processed", None, new
    )


def test_a_done_file_gives_its_times_and_size_with_bounded_tags() -> None:
    f = m.file_metrics(ended(), CONTEXT)

    assert f is not None and not f.failed
    assert (f.processing_time, f.queue_wait_time, f.end_to_end_latency) == (5.0, 55.0, 60.0)
    assert f.size == 2048
    assert dict(f.tags) == {
        "env": "prod",
        "workflow": "ohlcv",
        "bucket": "landing",
        "prefix": "ohlcv/",
        "folder": "ohlcv/2024",
        "file_type": "csv",
    }


def test_tags_never_hold_a_key_a_batch_id_or_a_time() -> None:
    f = m.file_metrics(ended(key="ohlcv/2024/01/02/EURUSD_1700000000.csv.gz"), CONTEXT)

    assert f is not None
    values = " ".join(v for _, v in f.tags)
    assert "eurusd" not in values and "1700000000" not in values and "b1" not in values
    assert dict(f.tags)["file_type"] == "csv.gz"


@pytest.mark.parametrize(
    ("key", "depth", "folder"),
    [
        ("ohlcv/2024/01/02/x.csv", 2, "ohlcv/2024"),
        ("ohlcv/2024/01/02/x.csv", 0, "/"),
        ("ohlcv/x.csv", 3, "ohlcv"),
        ("x.csv", 2, "/"),
    ],
)
def test_the_folder_tag_is_the_parent_folder_cut_to_the_configured_depth(
    key: str, depth: int, folder: str
) -> None:
    assert m.folder_of(key, depth) == folder


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("column 'Open', row 7: cannot parse 'x' as double", "bad_value"),
        ("missing required column(s) Close; header has: a, b", "missing_column"),
        ("malformed CSV: expected 6 fields", "malformed"),
        ("binary content: the file is not CSV text (NUL bytes found)", "malformed"),
        ("refused: ohlcv/x.csv is a symbolic link", "refused"),
        ("input file is gone: ohlcv/x.csv", "gone"),
        ("cannot write output /o/x.parquet: No space left on device", "io"),
        ("lease expired on attempt 3; no attempts left", "lease_expired"),
        ("engine error: out of memory", "engine"),
        ("something nobody expected", "other"),
        (None, "other"),
    ],
)
def test_a_failure_is_classed_into_a_small_fixed_set_of_error_kinds(
    error: str | None, kind: str
) -> None:
    assert m.error_kind(error) == kind
    assert kind in m.ERROR_KINDS


def test_a_failed_file_counts_once_with_its_error_kind_and_gives_no_timings() -> None:
    t = ended(status=Status.FAILED, error="column 'Open', row 2: cannot parse 'x' as double")
    f = m.file_metrics(t, CONTEXT)

    assert f is not None and f.failed and dict(f.tags)["error_kind"] == "bad_value"
    assert m.distribution_points([f]) == []
    (count,) = m.count_points([f])
    assert (count.metric, count.value) == (m.FILES_FAILED, 1.0)


def test_transitions_that_do_not_end_a_file_give_no_metrics() -> None:
    claimed = ended(status=Status.PROCESSING)
    assert m.file_metrics(claimed, CONTEXT) is None


def test_durations_across_skewed_clocks_are_never_negative() -> None:
    f = m.file_metrics(ended(upload_time=T0 + 30.0), CONTEXT)

    assert f is not None and f.queue_wait_time == 0.0 and f.end_to_end_latency == 0.0


def test_count_points_are_whole_totals_per_minute_bucket_and_tag_set() -> None:
    files = [m.file_metrics(ended(at=T0 + s, size=100), CONTEXT) for s in (0.0, 10.0, 59.0, 61.0)]
    points = m.count_points([f for f in files if f is not None])

    processed = [(p.timestamp, p.value) for p in points if p.metric == m.FILES_PROCESSED]
    assert processed == [(T0, 3.0), (T0 + 60.0, 1.0)]  # T0 is on a minute
    assert all(p.timestamp % m.COUNT_INTERVAL == 0 for p in points)
    size = [p.value for p in points if p.metric == m.BYTES_PROCESSED]
    assert size == [300.0, 100.0]


def test_each_done_file_gives_one_value_in_each_distribution() -> None:
    f = m.file_metrics(ended(), CONTEXT)
    assert f is not None

    points = m.distribution_points([f, f])

    assert sorted({p.metric for p in points}) == sorted(m.DISTRIBUTIONS)
    assert len(points) == 2 * len(m.DISTRIBUTIONS)
    assert all(p.kind == m.DISTRIBUTION and p.timestamp == T0 for p in points)


@given(st.text(max_size=300))
def test_tag_values_are_always_safe_and_short(value: str) -> None:
    cleaned = m.tag_value(value)

    assert cleaned and len(cleaned) <= 100
    assert all(c.isascii() and (c.isalnum() or c in "_-./") for c in cleaned)
    assert cleaned == cleaned.lower()


def test_backlog_gauges_are_per_workflow_with_the_workflow_tags() -> None:
    gauges = m.gauge_points([m.BacklogGauge("ohlcv", "landing", 4, 90.0)], CONTEXT, T0)

    assert [(p.metric, p.value) for p in gauges] == [
        (m.BACKLOG_FILES, 4.0),
        (m.BACKLOG_OLDEST_AGE, 90.0),
    ]
    assert dict(gauges[0].tags) == {
        "env": "prod",
        "workflow": "ohlcv",
        "bucket": "landing",
        "prefix": "ohlcv/",
    }
