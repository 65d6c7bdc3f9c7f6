"""Summing a window's ended files up (domain.metric_summary): groups, totals, failures and
exact nearest-rank percentiles, from the same FileMetrics the sinks are fed."""

from __future__ import annotations

from typing import Any

import pytest

from ingestflow.domain.metric_summary import (
    Durations,
    FailureCount,
    Summary,
    percentile,
    summarise,
)
from ingestflow.domain.metrics import FileMetrics, MetricsContext, file_metrics
from ingestflow.domain.records import Transition
from ingestflow.domain.status import Status

T0 = 1_700_000_000.0
CONTEXT = MetricsContext(env="test", prefixes={"ohlcv": "ohlcv/", "trades": "trades/"})


def ended(
    key: str,
    *,
    size: int = 100,
    upload: float = T0,
    start: float = T0 + 10,
    end: float = T0 + 20,
    error: str | None = None,
    workflow: str = "ohlcv",
) -> FileMetrics:
    """The FileMetrics of a real `-> DONE` (or, with `error`, `-> FAILED`) transition."""
    image: dict[str, Any] = {
        "size": size,
        "upload_time": upload,
        "start_time": start,
        "end_time": end,
        "error": error,
    }
    status = Status.DONE if error is None else Status.FAILED
    t = Transition(1, "landing", key, workflow, Status.PROCESSING, status, end, "", None, image)
    metrics = file_metrics(t, CONTEXT)
    assert metrics is not None
    return metrics


def test_the_nearest_rank_percentile_is_a_value_that_was_observed() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20

    assert percentile(values, 50) == 10.0  # rank ceil(10) = 10
    assert percentile(values, 95) == 19.0  # rank 19, not 20: 95 * 20 / 100 is exact
    assert percentile(values, 100) == 20.0
    assert percentile(values, 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 50) == 4.0


def test_the_percentile_of_one_value_is_that_value_and_of_none_is_none() -> None:
    assert percentile([7.5], 50) == percentile([7.5], 95) == 7.5
    assert percentile([], 50) is None
    assert Durations.of([]) == Durations(None, None, None)


def test_a_percentile_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_no_files_give_zero_counts_and_no_durations() -> None:
    result = summarise([])

    assert result.totals == Summary(0, 0, 0)
    assert result.totals.processing_time == Durations(None, None, None)
    assert result.groups == ()
    assert result.failures == ()


def test_one_file_gives_its_own_size_and_times() -> None:
    result = summarise(
        [ended("ohlcv/2024/01/a.csv", size=123, upload=T0, start=T0 + 4, end=T0 + 6)]
    )

    totals = result.totals
    assert (totals.files_done, totals.files_failed, totals.bytes) == (1, 0, 123)
    assert totals.processing_time == Durations(2.0, 2.0, 2.0)
    assert totals.queue_wait_time == Durations(4.0, 4.0, 4.0)
    assert totals.end_to_end_latency == Durations(6.0, 6.0, 6.0)
    [group] = result.groups
    assert (group.workflow, group.folder, group.file_type) == ("ohlcv", "ohlcv/2024", "csv")
    assert group.summary == totals


def test_files_are_grouped_by_workflow_folder_and_file_type_from_their_tags() -> None:
    files = [
        ended("trades/x/y/e.csv", size=5, workflow="trades"),
        ended("ohlcv/2024/02/c.csv.gz", size=300, start=T0 + 10, end=T0 + 70),
        ended("ohlcv/2024/01/a.csv", size=100, start=T0 + 10, end=T0 + 40),
        ended("ohlcv/2024/01/b.csv", size=200, start=T0 + 10, end=T0 + 50),
        ended("root.csv", size=1),
    ]

    result = summarise(files)

    keys = [(g.workflow, g.folder, g.file_type, g.summary.files_done) for g in result.groups]
    assert keys == [
        ("ohlcv", "/", "csv", 1),  # a file at the root
        ("ohlcv", "ohlcv/2024", "csv", 2),  # folders cut to depth 2
        ("ohlcv", "ohlcv/2024", "csv.gz", 1),
        ("trades", "trades/x", "csv", 1),
    ]
    csv_group = result.groups[1].summary
    assert csv_group.bytes == 300
    assert csv_group.processing_time == Durations(35.0, 30.0, 40.0)
    assert result.totals.bytes == 606


def test_totals_take_percentiles_over_every_file_not_over_group_percentiles() -> None:
    # Two groups with medians 1 and 100: a median of medians would be 50.5, the truth is 2.
    small = [ended(f"ohlcv/a/{i}.csv", start=T0, end=T0 + v) for i, v in enumerate([1, 2, 3])]
    big = [ended("ohlcv/b/x.csv", start=T0, end=T0 + 100)]

    totals = summarise(small + big).totals

    assert totals.processing_time == Durations(26.5, 2.0, 100.0)


def test_failed_files_add_no_bytes_or_durations_and_count_by_error_kind() -> None:
    files = [
        ended("ohlcv/a/1.csv", size=10, error="missing required column 'close'"),
        ended("ohlcv/a/2.csv", size=20, error="missing required column 'open'"),
        ended("ohlcv/a/3.csv", size=30, error="column 'close', row 7: not a number"),
        ended("trades/a/4.csv", size=40, error="something new", workflow="trades"),
    ]

    result = summarise(files)

    assert result.totals == Summary(0, 4, 0)  # failed only: no bytes, no durations
    assert result.failures == (
        FailureCount("ohlcv", "bad_value", 1),
        FailureCount("ohlcv", "missing_column", 2),
        FailureCount("trades", "other", 1),
    )
    assert [(g.summary.files_done, g.summary.files_failed) for g in result.groups] == [
        (0, 3),
        (0, 1),
    ]


def test_a_span_clamped_to_zero_upstream_still_counts_as_a_value() -> None:
    # The clocks disagree: the file "ended" before it started; file_metrics clamps that to 0.
    clamped = ended("ohlcv/a/1.csv", upload=T0, start=T0 + 10, end=T0 + 5)
    later = ended("ohlcv/a/2.csv", upload=T0, start=T0 + 10, end=T0 + 14)

    totals = summarise([clamped, later]).totals

    assert clamped.processing_time == 0.0
    assert totals.processing_time == Durations(2.0, 0.0, 4.0)
    assert totals.end_to_end_latency == Durations(9.5, 5.0, 14.0)


def test_a_file_without_a_start_time_counts_but_gives_no_processing_time() -> None:
    f = ended("ohlcv/a/1.csv", size=9)
    no_start = FileMetrics(f.tags, False, 9, f.at, None, None, 20.0)

    totals = summarise([no_start]).totals

    assert (totals.files_done, totals.bytes) == (1, 9)
    assert totals.processing_time == Durations(None, None, None)
    assert totals.end_to_end_latency == Durations(20.0, 20.0, 20.0)


def test_the_average_is_exact_over_many_values() -> None:
    # A plain running sum of 1000 x 0.1 drifts to 100.00000000000133; fsum does not.
    files = [ended(f"ohlcv/a/{i}.csv", upload=0.0, start=0.0, end=0.1) for i in range(1000)]

    assert summarise(files).totals.processing_time.avg == 0.1
