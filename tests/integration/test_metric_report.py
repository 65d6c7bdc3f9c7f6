"""`metric_report` on a real SQLite ledger: files registered, claimed and finished at controlled
times give the numbers computed by hand; the window excludes what ended outside it; many files
are read page by page without losing or repeating one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.metrics import MetricsContext
from ingestflow.domain.records import Batch, FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow
from ingestflow.services.metric_report import TABLE_COLUMNS, metric_report

T0 = 1_700_000_000.0
BUCKET = "landing"
OHLCV = Workflow("ohlcv", "ohlcv/", batch_size=1, max_wait=0, max_batch_files=20_000)
TRADES = Workflow("trades", "trades/", batch_size=1, max_wait=0)
WORKFLOWS = (OHLCV, TRADES)
CONTEXT = MetricsContext(env="test", prefixes={w.name: w.prefix for w in WORKFLOWS}, folder_depth=2)
NOW = T0 + 1000  # the report's `now`; with SINCE, the window is [T0 + 400, T0 + 1000)
SINCE = 600.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        yield store
    finally:
        store.close()


def land(
    store: SqliteStatusStore, w: Workflow, files: Sequence[tuple[str, int, float]], now: float
) -> None:
    """Register (key, size, upload time) files of workflow `w`."""
    objects = [
        (ObjectInfo(key, size, f"etag-{key}", upload), w.name) for key, size, upload in files
    ]
    store.register(BUCKET, objects, now)


def claim(store: SqliteStatusStore, w: Workflow, now: float) -> Batch:
    batch = store.claim(w, now, "test:1")
    assert batch is not None
    return batch


def finish(
    store: SqliteStatusStore,
    w: Workflow,
    batch: Batch,
    keys: Sequence[str],
    now: float,
    error: str | None = None,
) -> None:
    outcomes = [
        FileOutcome.done(k, f"etag-{k}", f"out/{k}", 1)
        if error is None
        else FileOutcome.failed(k, f"etag-{k}", error, retryable=False)
        for k in keys
    ]
    store.finish(w, batch.batch_id, outcomes, now)


@pytest.fixture
def scenario(store: SqliteStatusStore) -> SqliteStatusStore:
    # Before the window: done at T0 + 20.
    land(store, OHLCV, [("ohlcv/old/x.csv", 1000, T0)], T0)
    old = claim(store, OHLCV, T0 + 10)
    finish(store, OHLCV, old, ["ohlcv/old/x.csv"], T0 + 20)
    # In the window: three files claimed together, ending at two times.
    land(
        store,
        OHLCV,
        [
            ("ohlcv/2024/01/a.csv", 100, T0 + 500),
            ("ohlcv/2024/01/b.csv", 200, T0 + 510),
            ("ohlcv/2024/02/c.csv.gz", 300, T0 + 520),
        ],
        T0 + 520,
    )
    abc = claim(store, OHLCV, T0 + 530)
    finish(store, OHLCV, abc, ["ohlcv/2024/01/a.csv", "ohlcv/2024/01/b.csv"], T0 + 560)
    finish(store, OHLCV, abc, ["ohlcv/2024/02/c.csv.gz"], T0 + 590)
    # A failure in the window.
    land(store, OHLCV, [("ohlcv/2024/01/d.csv", 400, T0 + 600)], T0 + 600)
    d = claim(store, OHLCV, T0 + 700)
    finish(store, OHLCV, d, ["ohlcv/2024/01/d.csv"], T0 + 710, "missing required column 'close'")
    # Another workflow, a deep folder.
    land(store, TRADES, [("trades/x/y/z/e.csv", 50, T0 + 800)], T0 + 800)
    e = claim(store, TRADES, T0 + 900)
    finish(store, TRADES, e, ["trades/x/y/z/e.csv"], T0 + 950)
    # Ends exactly at `now`: the window's end is exclusive.
    land(store, TRADES, [("trades/x/f.csv", 60, T0 + 955)], T0 + 955)
    f = claim(store, TRADES, T0 + 960)
    finish(store, TRADES, f, ["trades/x/f.csv"], NOW)
    # Still waiting: the backlog.
    land(store, OHLCV, [("ohlcv/2024/03/g.csv", 70, T0 + 900)], T0 + 900)
    return store


def test_the_report_gives_the_hand_computed_numbers_of_the_window(
    scenario: SqliteStatusStore,
) -> None:
    report = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, SINCE, NOW).as_json()

    # DONE in the window: a (wait 30, proc 30, e2e 60), b (20, 30, 50), c (10, 60, 70),
    # e (100, 50, 150); d failed.
    assert report["totals"] == {
        "files_done": 4,
        "files_failed": 1,
        "bytes": 650,
        "processing_time": {"avg": 42.5, "p50": 30.0, "p95": 60.0},
        "end_to_end_latency": {"p50": 60.0, "p95": 150.0},
        "queue_wait_time": {"avg": 40.0, "p50": 20.0, "p95": 100.0},
    }
    assert report["groups"] == [
        {
            "workflow": "ohlcv",
            "folder": "ohlcv/2024",
            "file_type": "csv",
            "files_done": 2,
            "files_failed": 1,
            "bytes": 300,
            "processing_time": {"avg": 30.0, "p50": 30.0, "p95": 30.0},
            "end_to_end_latency": {"p50": 50.0, "p95": 60.0},
            "queue_wait_time": {"avg": 25.0, "p50": 20.0, "p95": 30.0},
        },
        {
            "workflow": "ohlcv",
            "folder": "ohlcv/2024",
            "file_type": "csv.gz",
            "files_done": 1,
            "files_failed": 0,
            "bytes": 300,
            "processing_time": {"avg": 60.0, "p50": 60.0, "p95": 60.0},
            "end_to_end_latency": {"p50": 70.0, "p95": 70.0},
            "queue_wait_time": {"avg": 10.0, "p50": 10.0, "p95": 10.0},
        },
        {
            "workflow": "trades",
            "folder": "trades/x",
            "file_type": "csv",
            "files_done": 1,
            "files_failed": 0,
            "bytes": 50,
            "processing_time": {"avg": 50.0, "p50": 50.0, "p95": 50.0},
            "end_to_end_latency": {"p50": 150.0, "p95": 150.0},
            "queue_wait_time": {"avg": 100.0, "p50": 100.0, "p95": 100.0},
        },
    ]
    assert report["failures"] == [{"workflow": "ohlcv", "error_kind": "missing_column", "files": 1}]


def test_the_backlog_is_the_todo_files_now_with_no_age_when_nothing_waits(
    scenario: SqliteStatusStore,
) -> None:
    report = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, SINCE, NOW).as_json()

    assert report["backlog"] == [
        {"workflow": "ohlcv", "files": 1, "bytes": 70, "oldest_age_seconds": 100.0},
        {"workflow": "trades", "files": 0, "bytes": 0, "oldest_age_seconds": None},
    ]


def test_the_window_is_given_as_iso_utc_and_epoch_seconds(scenario: SqliteStatusStore) -> None:
    report = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, SINCE, NOW).as_json()

    assert report["window"] == {
        "since_seconds": 600.0,
        "start": "2023-11-14T22:20:00.000Z",
        "end": "2023-11-14T22:30:00.000Z",
        "start_epoch": T0 + 400,
        "end_epoch": NOW,
    }
    assert (report["env"], report["bucket"], report["percentile_method"]) == (
        "test",
        BUCKET,
        "nearest-rank",
    )


def test_a_wider_window_takes_in_what_ended_earlier_and_a_later_now_what_ended_at_the_end(
    scenario: SqliteStatusStore,
) -> None:
    wide = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, 2000.0, NOW).as_json()
    later = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, SINCE, NOW + 1).as_json()

    assert (wide["totals"]["files_done"], wide["totals"]["bytes"]) == (5, 1650)  # + old/x
    assert (later["totals"]["files_done"], later["totals"]["bytes"]) == (5, 710)  # + f


def test_a_window_with_no_ended_files_gives_zeros_and_nulls(scenario: SqliteStatusStore) -> None:
    report = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, 60.0, T0 + 300).as_json()

    assert report["totals"] == {
        "files_done": 0,
        "files_failed": 0,
        "bytes": 0,
        "processing_time": {"avg": None, "p50": None, "p95": None},
        "end_to_end_latency": {"p50": None, "p95": None},
        "queue_wait_time": {"avg": None, "p50": None, "p95": None},
    }
    assert report["groups"] == report["failures"] == []


def test_the_table_has_a_row_per_group_and_a_total_row(scenario: SqliteStatusStore) -> None:
    report = metric_report(scenario, CONTEXT, WORKFLOWS, BUCKET, SINCE, NOW)

    rows = report.table_rows()

    assert all(len(row) == len(TABLE_COLUMNS) for row in rows)
    assert rows[0] == (
        "ohlcv", "ohlcv/2024", "csv", "2", "1", "300",
        "30.000", "30.000", "30.000", "50.000", "60.000",
    )  # fmt: skip
    assert rows[-1][:6] == ("total", "", "", "4", "1", "650")
    titles = [title for title, _, _ in report.tables()]
    assert titles == ["files", "failures", "backlog"]
    assert report.tables()[2][2] == [("ohlcv", "1", "70", "100.000"), ("trades", "0", "0", "-")]


def test_a_negative_window_is_refused(store: SqliteStatusStore) -> None:
    with pytest.raises(ValueError, match="since"):
        metric_report(store, CONTEXT, WORKFLOWS, BUCKET, -1.0, NOW)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStatusStore]:
    """12,000 files uploaded at T0 and claimed at T0 + 10; chunk k (1000 files, k = 1..12)
    ends at T0 + 10 + k, so processing times are 1000 x 1 s, ..., 1000 x 12 s."""
    store = SqliteStatusStore(tmp_path_factory.mktemp("big") / "ledger.db")
    try:
        files = [(f"ohlcv/big/{i:05d}.csv", i + 1, T0) for i in range(12_000)]
        land(store, OHLCV, files, T0)
        batch = claim(store, OHLCV, T0 + 10)
        assert len(batch.files) == 12_000
        keys = [key for key, _, _ in files]
        for k in range(12):
            finish(store, OHLCV, batch, keys[k * 1000 : (k + 1) * 1000], T0 + 11 + k)
        yield store
    finally:
        store.close()


@pytest.mark.parametrize("page", [10_000, 4_000, 997])
def test_many_files_are_read_page_by_page_each_exactly_once(
    big: SqliteStatusStore, page: int
) -> None:
    report = metric_report(big, CONTEXT, WORKFLOWS, BUCKET, 3600.0, T0 + 100, page=page)
    totals = report.as_json()["totals"]

    assert totals["files_done"] == 12_000
    assert totals["bytes"] == 12_000 * 12_001 // 2
    # Nearest rank: p50 is rank 6000 (chunk 6), p95 rank 11,400 (chunk 12).
    assert totals["processing_time"] == {"avg": 6.5, "p50": 6.0, "p95": 12.0}
    assert totals["end_to_end_latency"] == {"p50": 16.0, "p95": 22.0}
