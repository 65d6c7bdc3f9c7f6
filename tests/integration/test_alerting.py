"""Alerting passes on a real SQLite ledger with a real notifier (text to a stream), time driven
through the clock: stale/failed/stuck alerts once per problem, `missing` at its deadline in its
time zone, resolution, restarts and two evaluators."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingestflow.adapters.notify.stdout import StdoutNotifier
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow
from ingestflow.services.alerting import Alerting, AlertPolicy

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3600.0


def at(text: str, zone: ZoneInfo = PARIS) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    ledger = SqliteStatusStore(tmp_path / "ledger.db")
    try:
        yield ledger
    finally:
        ledger.close()


def alerting(
    store: SqliteStatusStore, workflows: list[Workflow], clock: Clock, out: io.StringIO
) -> Alerting:
    store.sync_workflows(workflows)
    policy = AlertPolicy(renotify=4 * HOUR, max_renotify=2, env="test")
    return Alerting(store, workflows, [StdoutNotifier("out", out)], policy, "me:1", clock)


def land(store: SqliteStatusStore, w: Workflow, key: str, upload: float) -> None:
    store.register("landing", [(ObjectInfo(key, 10, f"v{upload}", upload), w.name)], upload)


def test_a_stale_file_alerts_once_then_resolves_when_it_is_processed(
    store: SqliteStatusStore,
) -> None:
    w = Workflow("ohlcv", "ohlcv/", batch_size=100, max_wait=1e6, stale_after=5 * HOUR)
    t0 = at("2024-03-01T08:00:00")
    clock, out = Clock(t0), io.StringIO()
    service = alerting(store, [w], clock, out)
    land(store, w, "ohlcv/<b>late</b>.csv", t0)

    clock.now = t0 + 4 * HOUR
    assert service.run_pass().sent == {}
    clock.now = t0 + 6 * HOUR
    assert service.run_pass().sent == {"out": 1}
    for minutes in (1, 2, 3):
        clock.now = t0 + 6 * HOUR + minutes * 60
        assert service.run_pass().sent == {}  # one message per problem, not one per tick
    assert "ohlcv/<b>late</b>.csv" in out.getvalue() and "stale" in out.getvalue()

    batch = store.claim(w, clock.now, "worker")
    assert batch is None  # not ready by batch_size: force it out through max_wait below
    w_now = Workflow("ohlcv", "ohlcv/", batch_size=1, max_wait=0, stale_after=5 * HOUR)
    batch = store.claim(w_now, clock.now, "worker")
    assert batch is not None
    (f,) = batch.files
    store.finish(w_now, batch.batch_id, [FileOutcome.done(f.key, f.etag, "o", 1)], clock.now)
    clock.now += 60
    assert service.run_pass().sent == {"out": 1}
    assert "RESOLVED" in out.getvalue().upper()
    (alert,) = store.alerts(0)
    assert alert.state == "resolved"


def test_a_failed_file_alerts_with_its_error(store: SqliteStatusStore) -> None:
    w = Workflow("ohlcv", "ohlcv/", batch_size=1, max_wait=0)
    t0 = at("2024-03-01T08:00:00")
    clock, out = Clock(t0 + 10), io.StringIO()
    service = alerting(store, [w], clock, out)
    land(store, w, "ohlcv/bad.csv", t0)
    batch = store.claim(w, t0 + 1, "worker")
    assert batch is not None
    (f,) = batch.files
    error = "column 'Open', row 2: cannot parse '\x1b[31mx' as double"
    store.finish(
        w, batch.batch_id, [FileOutcome.failed(f.key, f.etag, error, retryable=False)], t0 + 2
    )

    assert service.run_pass().sent == {"out": 1}
    text = out.getvalue()
    assert "ohlcv/bad.csv" in text and "cannot parse" in text
    assert "\x1b" not in text  # control characters are shown escaped


def test_a_missing_rule_fires_once_at_its_deadline_and_resolves_when_a_file_arrives(
    store: SqliteStatusStore,
) -> None:
    w = Workflow(
        "daily", "daily/", expect_cron="0 6 * * 1-5", expect_window=24 * HOUR,
        expect_min_files=1, timezone="Europe/Paris", stale_after=30 * 24 * HOUR,
    )  # fmt: skip
    clock, out = Clock(at("2024-03-04T05:59:00")), io.StringIO()  # a Monday
    service = alerting(store, [w], clock, out)
    land(store, w, "daily/friday.csv", at("2024-03-01T10:00:00"))  # outside Monday's window

    assert service.run_pass().sent == {}  # Friday's deadline had its file; Monday's not due
    clock.now = at("2024-03-04T06:00:30")
    assert service.run_pass().sent == {"out": 1}
    for minutes in range(1, 30, 7):
        clock.now = at("2024-03-04T06:01:00") + minutes * 60
        assert service.run_pass().sent == {}
    land(store, w, "daily/monday.csv", at("2024-03-04T07:10:00"))
    clock.now = at("2024-03-04T07:11:00")
    assert service.run_pass().sent == {"out": 1}
    assert [a.state for a in store.alerts(0)] == ["resolved"]


def test_a_missing_rule_uses_its_time_zone_across_a_dst_change(store: SqliteStatusStore) -> None:
    w = Workflow(
        "daily", "daily/", expect_cron="0 6 * * *", expect_window=HOUR,
        timezone="Europe/Paris", stale_after=30 * 24 * HOUR,
    )  # fmt: skip
    clock, out = Clock(at("2024-03-31T05:59:00")), io.StringIO()  # the night clocks go forward
    service = alerting(store, [w], clock, out)
    land(store, w, "daily/a.csv", at("2024-03-30T05:30:00"))

    assert service.run_pass().sent == {}  # 06:00 local not reached (04:00 UTC)
    clock.now = at("2024-03-31T06:00:00")
    assert clock.now == dt.datetime(2024, 3, 31, 4, 0, tzinfo=dt.UTC).timestamp()
    assert service.run_pass().sent == {"out": 1}


def test_a_restart_while_an_alert_fires_sends_nothing_new(
    store: SqliteStatusStore, tmp_path: Path
) -> None:
    w = Workflow("ohlcv", "ohlcv/", batch_size=100, max_wait=1e6, stale_after=HOUR)
    t0 = at("2024-03-01T08:00:00")
    land(store, w, "ohlcv/a.csv", t0)
    out = io.StringIO()
    first = alerting(store, [w], Clock(t0 + 2 * HOUR), out)
    assert first.run_pass().sent == {"out": 1}

    again = SqliteStatusStore(tmp_path / "ledger.db")  # a restarted process, another owner
    try:
        second = Alerting(
            again, [w], [StdoutNotifier("out", out)], AlertPolicy(4 * HOUR, 2), "me:2",
            Clock(t0 + 2 * HOUR + 60),
        )  # fmt: skip
        assert second.run_pass().sent == {}
        assert second.run_pass().sent == {}
    finally:
        again.close()
    assert out.getvalue().count("ohlcv/a.csv") == 1


def test_reminders_follow_renotify_up_to_max_renotify(store: SqliteStatusStore) -> None:
    w = Workflow("ohlcv", "ohlcv/", batch_size=100, max_wait=1e6, stale_after=HOUR)
    t0 = at("2024-03-01T08:00:00")
    land(store, w, "ohlcv/a.csv", t0)
    clock, out = Clock(t0 + 2 * HOUR), io.StringIO()
    service = alerting(store, [w], clock, out)

    sent = []
    for hours in range(0, 24, 1):
        clock.now = t0 + 2 * HOUR + hours * HOUR
        sent.append(service.run_pass().sent.get("out", 0))

    assert sum(sent) == 3  # the first message and max_renotify = 2 reminders
    assert [i for i, n in enumerate(sent) if n] == [0, 4, 8]


def test_the_daily_report_is_sent_once_at_its_deadline_in_its_time_zone(
    store: SqliteStatusStore,
) -> None:
    w = Workflow("ohlcv", "ohlcv/", batch_size=100, max_wait=1e6, stale_after=HOUR)
    t0 = at("2024-03-01T01:00:00")
    land(store, w, "ohlcv/old.csv", t0)
    clock, out = Clock(at("2024-03-01T06:30:00")), io.StringIO()
    store.sync_workflows([w])
    policy = AlertPolicy(4 * HOUR, 2, "test", "0 7 * * *", "Europe/Paris", False)
    reporter = StdoutNotifier("out", out)
    service = Alerting(store, [w], [reporter], policy, "me:1", clock)

    service.run_pass()  # the stale alert, and the report schedule starts (no report yet)
    alert_text = out.getvalue()
    assert "report" not in alert_text.lower()
    clock.now = at("2024-03-01T07:00:10")
    assert service.run_pass().sent == {"out": 1}  # the report
    report = out.getvalue()[len(alert_text) :]
    assert "ohlcv/old.csv" in report and "report" in report.lower()
    clock.now = at("2024-03-01T07:05:00")
    assert service.run_pass().sent == {}
    other = Alerting(store, [w], [reporter], policy, "me:2", clock)
    assert other.run_pass().sent == {}  # another evaluator does not send it again
