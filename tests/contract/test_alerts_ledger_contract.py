"""Alert state in the StatusStore contract: one alert per problem (firing -> resolved), one
notification per notifier and event, reminders capped, senders that never send one twice."""

from __future__ import annotations

from ledger_backends import Ledger

from ingestflow.domain.alerts import AlertItem, Problem
from ingestflow.ports import StatusStore

T0 = 1_700_000_000.0
HOUR = 3600.0
NOTIFIERS = ("mail", "slack")
ITEM = AlertItem("ohlcv", "ohlcv/", "landing", "ohlcv/a.csv", "TODO", T0 - 6 * HOUR, "TODO 6h")


def stale(count: int = 1) -> Problem:
    return Problem("stale", "ohlcv", "", f"{count} file(s) stale", (ITEM,), count)


def sync(store: StatusStore, problems: list[Problem], now: float, **kw: object) -> list[int]:
    evaluated = kw.pop("evaluated", [("stale", "ohlcv")])
    return store.sync_alerts(problems, evaluated, NOTIFIERS, now, 4 * HOUR, 2)  # type: ignore[arg-type]


def events(store: StatusStore) -> list[tuple[str, str]]:
    return [(d.notifier, d.event) for a in store.alerts(0) for d in a.deliveries]


def test_a_new_problem_opens_one_alert_with_one_notification_per_notifier(
    store: StatusStore,
) -> None:
    made = sync(store, [stale()], T0)

    (alert,) = store.alerts(0)
    assert (alert.rule, alert.workflow, alert.state, alert.since) == (
        "stale",
        "ohlcv",
        "firing",
        T0,
    )
    assert alert.items == (ITEM,) and alert.summary == "1 file(s) stale"
    assert len(made) == 2 and events(store) == [("mail", "firing"), ("slack", "firing")]


def test_the_same_problem_found_again_sends_nothing_new_until_renotify(store: StatusStore) -> None:
    sync(store, [stale()], T0)

    assert sync(store, [stale(2)], T0 + 60) == []
    assert sync(store, [stale(2)], T0 + HOUR) == []
    (alert,) = store.alerts(0)
    assert alert.count == 2 and alert.summary == "2 file(s) stale"
    assert len(sync(store, [stale(2)], T0 + 4 * HOUR)) == 2  # a reminder each
    assert events(store)[-2:] == [("mail", "reminder"), ("slack", "reminder")]


def test_reminders_stop_after_max_renotify(store: StatusStore) -> None:
    sync(store, [stale()], T0)
    sent = [len(sync(store, [stale()], T0 + k * 4 * HOUR)) for k in range(1, 6)]

    assert sent == [2, 2, 0, 0, 0]  # max_renotify = 2: at most 1 + 2 messages per notifier
    assert store.alerts(0)[0].reminders == 2


def test_a_problem_gone_resolves_its_alert_once(store: StatusStore) -> None:
    sync(store, [stale()], T0)

    assert len(sync(store, [], T0 + 60)) == 2
    assert sync(store, [], T0 + 120) == []
    (alert,) = store.alerts(0)
    assert (alert.state, alert.resolved_at) == ("resolved", T0 + 60)
    assert events(store)[-2:] == [("mail", "resolved"), ("slack", "resolved")]
    assert store.alerts(T0 + 61) == []  # resolved before: not "recent" any more


def test_an_alert_of_a_rule_not_evaluated_this_time_stays_open(store: StatusStore) -> None:
    sync(store, [stale()], T0)

    assert sync(store, [], T0 + 60, evaluated=[("missing", "ohlcv")]) == []
    assert store.alerts(0)[0].state == "firing"


def test_a_problem_that_returns_after_resolving_is_a_new_alert(store: StatusStore) -> None:
    sync(store, [stale()], T0)
    sync(store, [], T0 + 60)
    sync(store, [stale()], T0 + 120)

    alerts = store.alerts(0)
    assert [a.state for a in alerts] == ["resolved", "firing"]
    assert alerts[1].since == T0 + 120


def test_two_stores_evaluating_the_same_problem_open_it_once(ledger: Ledger) -> None:
    first, second = ledger.open(), ledger.open()

    made = sync(first, [stale()], T0) + sync(second, [stale()], T0 + 1)

    assert len(made) == 2 and len(first.alerts(0)) == 1


def test_a_notification_is_taken_by_one_sender_and_sent_once(ledger: Ledger) -> None:
    first, second = ledger.open(), ledger.open()
    sync(first, [stale()], T0)

    taken = first.take_deliveries("mail", "a", T0 + 1, 60)
    assert [(d.event, d.status, a.rule) for d, a in taken] == [("firing", "sending", "stale")]
    assert second.take_deliveries("mail", "b", T0 + 2, 60) == []
    first.deliveries_sent([d.id for d, _ in taken], T0 + 3)
    assert second.take_deliveries("mail", "b", T0 + 100, 60) == []
    (mail,) = [d for d in first.alerts(0)[0].deliveries if d.notifier == "mail"]
    assert (mail.status, mail.sent_at, mail.attempts) == ("sent", T0 + 3, 1)


def test_a_failed_notification_is_retried_when_due_and_a_dead_senders_lease_expires(
    store: StatusStore,
) -> None:
    sync(store, [stale()], T0)
    (taken,) = store.take_deliveries("slack", "a", T0, 60)
    store.deliveries_failed([taken[0].id], "HTTP 500 from hooks.example", T0 + 30)

    assert store.take_deliveries("slack", "a", T0 + 10, 60) == []  # not due yet
    (again,) = store.take_deliveries("slack", "a", T0 + 30, 60)
    assert again[0].attempts == 2
    (late,) = store.take_deliveries("slack", "b", T0 + 91, 60)  # the sender died: lease over
    assert late[0].id == taken[0].id
    (record,) = [d for d in store.alerts(0)[0].deliveries if d.notifier == "slack"]
    assert record.last_error == "HTTP 500 from hooks.example"


def test_named_values_are_kept_in_the_ledger(store: StatusStore) -> None:
    assert store.get_info("alerts.last_report") is None
    store.set_info("alerts.last_report", "1700000000.5")
    assert store.get_info("alerts.last_report") == "1700000000.5"


def test_arrivals_count_every_file_of_a_workflow_uploaded_in_a_window(store: StatusStore) -> None:
    from ingestflow.domain.records import FileOutcome, ObjectInfo
    from ingestflow.domain.workflow import Workflow

    w = Workflow("ohlcv", "ohlcv/", batch_size=2, max_wait=0.0, max_batch_files=2)
    other = Workflow("fx", "fx/")
    files = [(ObjectInfo(f"ohlcv/{i}.csv", 10, "v1", T0 + i * 60), w.name) for i in range(5)]
    files.append((ObjectInfo("fx/a.csv", 10, "v1", T0 + 30), other.name))
    store.register("landing", files, T0 + 400)
    batch = store.claim(w, T0 + 400, "me")  # two oldest: one DONE, one FAILED
    assert batch is not None
    a, b = batch.files
    store.finish(w, batch.batch_id, [FileOutcome.done(a.key, a.etag, "o", 1),
                 FileOutcome.failed(b.key, b.etag, "bad", retryable=False)], T0 + 401)  # fmt: skip
    store.claim(w, T0 + 402, "me")  # two more PROCESSING, one TODO left

    assert store.arrivals("ohlcv", T0, T0 + 300) == 5
    assert store.arrivals("ohlcv", T0 + 60, T0 + 180) == 2  # end exclusive
    assert store.arrivals("fx", T0, T0 + 300) == 1
    assert store.arrivals("ohlcv", T0 + 300, T0 + 900) == 0


def test_a_named_value_is_swapped_only_from_what_the_caller_saw(ledger: Ledger) -> None:
    first, second = ledger.open(), ledger.open()

    assert first.swap_info("alerts.last_report", None, "100")
    assert not second.swap_info("alerts.last_report", None, "100")  # the other one won
    assert second.swap_info("alerts.last_report", "100", "200")
    assert first.get_info("alerts.last_report") == "200"
