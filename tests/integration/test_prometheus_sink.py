"""PrometheusSink and LedgerCollector on a real SQLite ledger: ended files are folded into the
ledger by the real Forwarder, and `/metrics`' text (parsed by prometheus_client's parser) shows
counters that survive restarts, cumulative histograms and backlog gauges computed at scrape
time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ingestflow.adapters.metrics.prometheus import (
    SECONDS_BUCKETS,
    LedgerCollector,
    PrometheusSink,
    ledger_registry,
    parse_series,
    series_key,
)
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain import metrics as m
from ingestflow.domain.errors import LedgerError, SinkError
from ingestflow.domain.metrics import MetricsContext, Point
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import FoldingSink
from ingestflow.services.forwarding import Forwarder

T0 = 1_700_000_000.0
BUCKET = "landing"
WF = Workflow("ohlcv", "ohlcv/", batch_size=3, max_batch_files=3)
CONTEXT = MetricsContext("test", {"ohlcv": "ohlcv/"})
SIZES = {"ohlcv/2024/01/a.csv": 100, "ohlcv/2024/01/b.csv": 2000, "ohlcv/2024/02/c.csv": 7}
BROKEN = "ohlcv/2024/02/c.csv"

HISTOGRAM_NAMES = (
    "ingestion_file_processing_time_seconds",
    "ingestion_file_queue_wait_time_seconds",
    "ingestion_file_end_to_end_latency_seconds",
    "ingestion_file_size_bytes",
)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(store: SqliteStatusStore, now: float = T0 + 10) -> Samples:
    """Every sample of the collector's text output, parsed as a scraper would."""
    registry = ledger_registry(LedgerCollector(store, CONTEXT, [WF], BUCKET, clock=lambda: now))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples carrying `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def finish_three_files(store: SqliteStatusStore) -> None:
    """Uploaded at T0-30, started at T0, ended at T0+2: two DONE, one FAILED (bad value)."""
    infos = [ObjectInfo(k, size, "v1", T0 - 30) for k, size in SIZES.items()]
    store.register(BUCKET, [(i, WF.name) for i in infos], T0 - 20)
    batch = store.claim(WF, T0, "worker")
    assert batch is not None and len(batch.files) == 3
    outcomes = [
        FileOutcome.failed(f.key, f.etag, "column Close, row 3: 'x' is not a double",
                           retryable=False)
        if f.key == BROKEN
        else FileOutcome.done(f.key, f.etag, f"out/{f.key}.parquet", rows=5)
        for f in batch.files
    ]  # fmt: skip
    store.finish(WF, batch.batch_id, outcomes, T0 + 2)


def forward(store: SqliteStatusStore, owner: str = "forwarder-1") -> None:
    forwarder = Forwarder(
        store, [PrometheusSink()], CONTEXT, [WF], BUCKET, owner, clock=lambda: T0 + 5
    )
    try:
        assert forwarder.flush(timeout=5)
    finally:
        forwarder.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(ledger: Path) -> Iterator[SqliteStatusStore]:
    store = SqliteStatusStore(ledger)
    try:
        yield store
    finally:
        store.close()


def test_the_sink_folds_into_the_ledger_and_refuses_to_send() -> None:
    sink = PrometheusSink()
    assert isinstance(sink, FoldingSink)
    assert (sink.name, sink.counts, sink.max_age) == ("prometheus", "increments", None)
    with pytest.raises(SinkError) as raised:
        sink.send([])
    assert raised.value.kind == SinkError.REJECTED


def test_counters_come_from_the_ledger_and_survive_reopening_it(ledger: Path) -> None:
    store = SqliteStatusStore(ledger)
    finish_three_files(store)
    forward(store)
    store.close()
    reopened = SqliteStatusStore(ledger)
    try:
        samples = scrape(reopened)
    finally:
        reopened.close()
    assert total(samples, "ingestion_files_processed_total") == 2
    assert total(samples, "ingestion_files_processed_total", folder="ohlcv/2024") == 2
    assert total(samples, "ingestion_bytes_processed_total") == 2100
    assert total(samples, "ingestion_files_failed_total", error_kind="bad_value") == 1
    assert total(samples, "ingestion_files_failed_total") == 1


def test_a_file_is_counted_once_however_often_the_forwarder_runs(store: SqliteStatusStore) -> None:
    finish_three_files(store)
    forward(store)
    before = scrape(store)
    forward(store)  # nothing new
    forward(store, owner="forwarder-2")  # a restart under another owner
    assert scrape(store) == before
    assert total(before, "ingestion_files_processed_total") == 2


def test_counters_add_up_across_deliveries_and_never_go_down(store: SqliteStatusStore) -> None:
    sink = PrometheusSink()
    tags = CONTEXT.workflow_tags("ohlcv", BUCKET)
    seen = []
    for position, size in enumerate((10.0, 0.0, 5.0), start=1):
        points = [Point(m.FILES_PROCESSED, m.COUNT, 1.0, T0, tags),
                  Point(m.BYTES_PROCESSED, m.COUNT, size, T0, tags),
                  Point(m.BYTES_PROCESSED, m.COUNT, -3.0, T0, tags)]  # fmt: skip
        assert store.lease_sink(sink.name, "me", T0, 30) is not None
        assert store.advance_sink(sink.name, "me", position, T0, totals=sink.fold(points))
        seen.append(total(scrape(store), "ingestion_bytes_processed_total"))
    assert seen == [10.0, 10.0, 15.0]
    assert total(scrape(store), "ingestion_files_processed_total") == 3


def test_histogram_buckets_are_cumulative_and_end_in_the_count(store: SqliteStatusStore) -> None:
    finish_three_files(store)
    forward(store)
    samples = scrape(store)
    for name in HISTOGRAM_NAMES:
        buckets = sorted(
            (float(dict(ls)["le"]), v) for (n, ls), v in samples.items() if n == f"{name}_bucket"
        )
        assert buckets[-1] == (math.inf, 2)
        assert [v for _, v in buckets] == sorted(v for _, v in buckets), name
        assert total(samples, f"{name}_count") == 2
    assert len([n for n, _ in samples if n == "ingestion_file_processing_time_seconds_bucket"]) == (
        len(SECONDS_BUCKETS) + 1
    )
    assert total(samples, "ingestion_file_processing_time_seconds_sum") == 4.0  # 2 s each
    assert total(samples, "ingestion_file_queue_wait_time_seconds_sum") == 60.0  # 30 s each
    assert total(samples, "ingestion_file_end_to_end_latency_seconds_sum") == 64.0
    assert total(samples, "ingestion_file_size_bytes_sum") == 2100


def test_a_value_lands_in_every_bucket_that_holds_it(store: SqliteStatusStore) -> None:
    finish_three_files(store)
    forward(store)
    samples = scrape(store)
    size = "ingestion_file_size_bytes_bucket"
    assert total(samples, size, le="1000.0") == 1  # 100 bytes
    assert total(samples, size, le="10000.0") == 2  # and 2000 bytes
    wait = "ingestion_file_queue_wait_time_seconds_bucket"
    assert total(samples, wait, le="10.0") == 0
    assert total(samples, wait, le="30.0") == 2  # exactly 30 s: le is inclusive


def test_the_backlog_gauges_are_computed_at_scrape_time(store: SqliteStatusStore) -> None:
    infos = [ObjectInfo(f"ohlcv/2024/03/{n}.csv", 10, "v1", T0 - 100) for n in "xy"]
    store.register(BUCKET, [(i, WF.name) for i in infos], T0 - 90)
    labels = {"env": "test", "workflow": "ohlcv", "bucket": "landing", "prefix": "ohlcv/"}
    first, later = scrape(store, now=T0), scrape(store, now=T0 + 50)
    assert total(first, "ingestion_backlog_files", **labels) == 2
    assert total(first, "ingestion_backlog_oldest_age_seconds", **labels) == 100
    assert total(later, "ingestion_backlog_oldest_age_seconds", **labels) == 150
    assert store.metric_totals("prometheus") == {}  # nothing stored for gauges


def test_gauges_and_values_that_are_not_finite_are_not_folded() -> None:
    tags = CONTEXT.workflow_tags("ohlcv", BUCKET)
    points = [
        Point(m.BACKLOG_FILES, m.GAUGE, 4.0, T0, tags),
        Point(m.PROCESSING_TIME, m.DISTRIBUTION, math.nan, T0, tags),
        Point(m.FILES_PROCESSED, m.COUNT, math.inf, T0, tags),
        Point("some.other.metric", m.COUNT, 1.0, T0, tags),
    ]
    assert PrometheusSink().fold(points) == {}


def test_registering_the_collector_reads_nothing_but_a_scrape_of_a_closed_ledger_fails(
    ledger: Path,
) -> None:
    store = SqliteStatusStore(ledger)
    store.close()
    registry = ledger_registry(LedgerCollector(store, CONTEXT, [WF], BUCKET))
    with pytest.raises(LedgerError):
        generate_latest(registry)


@pytest.mark.parametrize(
    "value", ["plain", 'a "quoted" word', "back\\slash", "two\nlines", "comma,and}brace=", ""]
)
def test_a_series_text_gives_back_its_name_and_labels(value: str) -> None:
    text = series_key("ingestion_x_total", [("workflow", "w"), ("folder", value)])
    assert parse_series(text) == ("ingestion_x_total", (("folder", value), ("workflow", "w")))
    assert text.index("folder") < text.index("workflow")  # canonical: sorted by name


def test_a_series_text_without_labels_and_a_foreign_text_are_told_apart() -> None:
    assert parse_series("ingestion_x_total") == ("ingestion_x_total", ())
    assert parse_series("not a series{") is None
    assert parse_series('x{a="1" b="2"}') is None
