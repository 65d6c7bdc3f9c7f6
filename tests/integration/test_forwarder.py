"""The forwarder on a real SQLite ledger with the real JSON-lines sink: every ended file once,
checkpoints, a crash between send and checkpoint, a sink that is down, two forwarders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.metrics.jsonl import JsonLinesSink
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain import metrics as m
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow
from ingestflow.services.forwarding import Forwarder, sink_reports

T0 = 1_700_000_000.0
BUCKET = "landing"
W = Workflow("ohlcv", "ohlcv/", batch_size=3, max_wait=0.0, max_batch_files=3)
CONTEXT = m.MetricsContext(env="test", prefixes={"ohlcv": "ohlcv/"}, folder_depth=2)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    ledger = SqliteStatusStore(tmp_path / "ledger.db")
    ledger.sync_workflows([W])
    try:
        yield ledger
    finally:
        ledger.close()


def process(store: SqliteStatusStore, names: list[str], start: float, bad: str = "") -> None:
    """Register, claim at `start` and finish at `start + 2` (`bad` fails)."""
    files = [
        (ObjectInfo(f"ohlcv/2024/01/{n}.csv", 1000 + i, f"v-{n}", start - 30), W.name)
        for i, n in enumerate(names)
    ]
    store.register(BUCKET, files, start - 20)
    batch = store.claim(W, start, "worker:1")
    assert batch is not None
    outcomes = [
        FileOutcome.failed(f.key, f.etag, "column 'Open', row 3: bad", retryable=False)
        if f.key.endswith(f"/{bad}.csv")
        else FileOutcome.done(f.key, f.etag, f"out/{f.key}", 10)
        for f in batch.files
    ]
    store.finish(W, batch.batch_id, outcomes, start + 2)


def forwarder(store: SqliteStatusStore, path: Path, owner: str = "me:1", **kw: Any) -> Forwarder:
    return Forwarder(
        store,
        [JsonLinesSink(str(path))],
        CONTEXT,
        [W],
        BUCKET,
        owner,
        clock=kw.pop("clock", Clock(T0 + 100)),
        gauge_interval=kw.pop("gauge_interval", 1e9),
        **kw,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_metric(points: list[dict[str, Any]]) -> Counter[str]:
    return Counter(p["metric"] for p in points)


def test_every_ended_file_is_delivered_once_with_its_values_and_tags(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    process(store, ["a", "b", "c"], T0, bad="c")
    out = tmp_path / "points.jsonl"
    f = forwarder(store, out, gauge_interval=0.0)

    assert f.forward()
    assert f.forward()  # caught up: nothing more
    f.close()

    points = lines(out)
    counted = by_metric(points)
    for name in (m.PROCESSING_TIME, m.QUEUE_WAIT_TIME, m.END_TO_END_LATENCY, m.FILE_SIZE):
        assert counted[name] == 2  # one per DONE file
    assert counted[m.FILES_PROCESSED] == 2 and counted[m.FILES_FAILED] == 1
    assert sum(p["value"] for p in points if p["metric"] == m.BYTES_PROCESSED) == 1000 + 1001
    latency = [p for p in points if p["metric"] == m.END_TO_END_LATENCY]
    assert {p["value"] for p in latency} == {32.0}  # uploaded at T0 - 30, ended at T0 + 2
    assert {p["value"] for p in points if p["metric"] == m.PROCESSING_TIME} == {2.0}
    failed = next(p for p in points if p["metric"] == m.FILES_FAILED)
    assert failed["tags"] == {
        "bucket": "landing",
        "env": "test",
        "error_kind": "bad_value",
        "file_type": "csv",
        "folder": "ohlcv/2024",
        "prefix": "ohlcv/",
        "workflow": "ohlcv",
    }
    assert {p["metric"] for p in points if p["type"] == "gauge"} == set(m.GAUGES)
    (report,) = sink_reports(store, ["jsonl"], T0 + 100)
    assert (report.checkpoint, report.pending) == (store.last_transition_id(), 0)


def test_points_are_delivered_again_only_for_transitions_after_a_crashed_delivery(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    """A forwarder died after sending (the in-flight mark is set, the checkpoint is not):
    whatever it may have sent is not sent twice; later transitions are sent."""
    process(store, ["a", "b"], T0)
    store.lease_sink("jsonl", "dead:1", T0, 30)
    store.mark_in_flight("jsonl", "dead:1", store.last_transition_id())
    process(store, ["c"], T0 + 10)
    out = tmp_path / "points.jsonl"

    f = forwarder(store, out, owner_is_dead=lambda owner: owner == "dead:1")
    assert f.forward()
    f.close()

    points = lines(out)
    assert by_metric(points)[m.FILES_PROCESSED] == 1  # only c
    assert {p["value"] for p in points if p["metric"] == m.FILE_SIZE} == {1000.0}
    (state,) = store.sink_states()
    assert state.in_flight is None and state.position == store.last_transition_id()


def test_a_sink_that_is_down_loses_nothing_and_is_retried_with_backoff(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the sink wants a folder")
    process(store, ["a", "b"], T0)
    clock = Clock(T0 + 100)
    broken = forwarder(store, blocker / "points.jsonl", clock=clock)

    assert not broken.forward()
    (report,) = broken.reports()
    assert report.pending == store.last_transition_id() and report.last_error
    assert not broken.forward()  # in backoff: not even tried
    broken.close()

    out = tmp_path / "points.jsonl"
    healed = forwarder(store, out, clock=clock)
    assert healed.forward()
    healed.close()
    assert by_metric(lines(out))[m.FILES_PROCESSED] == 2
    (report,) = sink_reports(store, ["jsonl"], T0 + 100)
    assert (report.pending, report.last_error) == (0, None)


def test_a_second_forwarder_waits_while_the_first_holds_the_sink(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    process(store, ["a"], T0)
    first_out, second_out = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first = forwarder(store, first_out, owner="host:1")
    second = forwarder(store, second_out, owner="host:2")

    assert first.forward()
    process(store, ["b"], T0 + 10)
    assert not second.forward()  # the sink is held by host:1
    assert first.forward()
    first.close()  # releases the sink
    process(store, ["c"], T0 + 20)
    assert second.forward()
    second.close()

    first_keys = by_metric(lines(first_out))[m.FILES_PROCESSED]
    second_keys = by_metric(lines(second_out))[m.FILES_PROCESSED]
    assert (first_keys, second_keys) == (2, 1)


def test_points_older_than_a_sinks_limit_are_dropped_and_counted(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    process(store, ["a"], T0)
    out = tmp_path / "points.jsonl"
    sink = JsonLinesSink(str(out))
    sink.max_age = 60.0  # as Datadog's API refuses points older than an hour
    f = Forwarder(store, [sink], CONTEXT, [W], BUCKET, "me:1", clock=Clock(T0 + 3600))

    assert f.forward()
    f.close()

    assert lines(out) == [p for p in lines(out) if p["type"] == "gauge"]
    (state,) = store.sink_states()
    assert state.dropped == 6  # 4 distributions, files and bytes processed


def test_wrong_credentials_stop_the_sink_keep_its_backlog_and_fail_the_flush(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    from datadog_capture import DatadogCapture

    from ingestflow.adapters.metrics.datadog import DatadogSink
    from ingestflow.config.secrets import Secret

    process(store, ["a"], T0)
    with DatadogCapture(api_key="right") as datadog:
        sink = DatadogSink(Secret("wrong"), datadog.url)
        f = Forwarder(store, [sink], CONTEXT, [W], BUCKET, "me:1")

        assert not f.flush(5.0)
        assert len(datadog.requests) == 1  # not retried
        (report,) = f.reports()
        f.close()

    assert report.stopped and report.pending == store.last_transition_id()
    assert "403" in (report.last_error or "")
