"""DynamoSide (the DynamoDB ledger's metrics sinks, alerts, named values and unrouted files) on
the moto server, on a meta table of the agreed layout (pk/sk, sparse GSI on g_pk/g_sk). The
clients refuse Scan: every read must be a Query or a GetItem.

Races are played out in a fixed order rather than with threads: moto applies a transaction
without a lock (and restores a copy of the whole table when one is cancelled), so threads
racing on it test moto. Instead `meanwhile` lets a second process (its own client) finish a
whole call just before the first one's write goes out: the first must see its conditions
fail, read again and come to the right result."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto_server import MotoServer

from ingestflow.adapters.state.dynamodb_side import DynamoSide
from ingestflow.adapters.state.dynamodb_side_base import META_INDEX
from ingestflow.domain.alerts import AlertItem, Problem
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import Transition, UnroutedFile

T0 = 1_700_000_000.0
HOUR = 3600.0
NOTIFIERS = ("mail", "slack")
ITEM = AlertItem("ohlcv", "ohlcv/", "landing", "ohlcv/a.csv", "TODO", T0 - 6 * HOUR, "TODO 6h")


class ScanRefused(AssertionError):
    pass


def _refuse_scan(**_: Any) -> None:
    raise ScanRefused("DynamoSide must never Scan")


def _client(moto_server: MotoServer) -> Any:
    made = moto_server.session().client("dynamodb", endpoint_url=moto_server.endpoint_url)
    made.meta.events.register("before-call.dynamodb.Scan", _refuse_scan)
    return made


@pytest.fixture
def client(moto_server: MotoServer) -> Any:
    return _client(moto_server)


@pytest.fixture
def other_client(moto_server: MotoServer) -> Any:
    """The second process's client."""
    return _client(moto_server)


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    name = f"ingestflow-meta-{uuid.uuid4().hex[:12]}"
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g_pk", "g_sk")
        ],
        KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
        GlobalSecondaryIndexes=[
            {
                "IndexName": META_INDEX,
                "KeySchema": [
                    {"AttributeName": "g_pk", "KeyType": "HASH"},
                    {"AttributeName": "g_sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    yield name
    client.delete_table(TableName=name)


def _no_transitions(checkpoint: int, limit: int) -> list[Transition]:
    return []


@pytest.fixture
def side(client: Any, table: str) -> DynamoSide:
    return DynamoSide(client, table, _no_transitions)


@pytest.fixture
def other(other_client: Any, table: str) -> DynamoSide:
    """A second process on the same table."""
    return DynamoSide(other_client, table, _no_transitions)


def calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of each `operation` call the client makes from now on (an event hook
    on the real client; the calls still go to the server)."""
    seen: list[dict[str, Any]] = []
    client.meta.events.register(
        f"provide-client-params.dynamodb.{operation}", lambda params, **_: seen.append(params)
    )
    return seen


def meanwhile(client: Any, operation: str, then: Callable[[], Any]) -> list[Any]:
    """Run `then` once, just before `client` next sends `operation`; its result is kept in
    the returned list."""
    results: list[Any] = []

    def run_first(**_: Any) -> None:
        if not results:
            results.append(then())

    client.meta.events.register(f"before-call.dynamodb.{operation}", run_first)
    return results


# -- metrics sinks --


def test_a_sink_is_created_at_position_zero_and_leased_to_one_owner_at_a_time(
    side: DynamoSide,
) -> None:
    taken = side.lease_sink("datadog", "a", T0, 30)

    assert taken is not None and (taken.position, taken.owner, taken.dropped) == (0, "a", 0)
    assert side.lease_sink("datadog", "b", T0 + 10, 30) is None
    renewed = side.lease_sink("datadog", "a", T0 + 10, 30)
    assert renewed is not None and renewed.lease_until == T0 + 40
    assert side.lease_sink("datadog", "b", T0 + 41, 30) is not None  # expired: taken over
    assert side.lease_sink("other", "b", T0, 30) is not None
    assert [s.sink for s in side.sink_states()] == ["datadog", "other"]


def test_a_dead_holder_is_taken_over_before_its_lease_ends(side: DynamoSide) -> None:
    side.lease_sink("jsonl", "dead", T0, 30)

    assert side.lease_sink("jsonl", "b", T0 + 1, 30) is None
    taken = side.lease_sink("jsonl", "b", T0 + 1, 30, take_over="dead")
    assert taken is not None and taken.owner == "b"


def test_of_two_forwarders_leasing_a_free_sink_at_once_one_gets_it(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    theirs = meanwhile(client, "UpdateItem", lambda: other.lease_sink("datadog", "b", T0, 30))

    assert side.lease_sink("datadog", "a", T0, 30) is None
    assert theirs[0] is not None and theirs[0].owner == "b"


def test_a_delivery_is_marked_in_flight_then_advanced_with_its_totals(side: DynamoSide) -> None:
    side.lease_sink("prometheus", "a", T0, 30)

    assert side.mark_in_flight("prometheus", "a", 7)
    (state,) = side.sink_states()
    assert (state.position, state.in_flight) == (0, 7)
    assert side.advance_sink("prometheus", "a", 7, T0 + 1, dropped=2, totals={"x": 1.5})
    assert side.advance_sink("prometheus", "a", 9, T0 + 2, totals={"x": 2.0, "y": 1.0})

    (state,) = side.sink_states()
    assert (state.position, state.in_flight, state.dropped) == (9, None, 2)
    assert (state.last_success, state.updated_at) == (T0 + 2, T0 + 2)
    assert side.metric_totals("prometheus") == {"x": 3.5, "y": 1.0}
    assert side.metric_totals("datadog") == {}


def test_only_the_holder_may_mark_advance_fail_or_release_a_sink(side: DynamoSide) -> None:
    side.lease_sink("datadog", "a", T0, 30)

    assert not side.mark_in_flight("datadog", "b", 5)
    assert not side.advance_sink("datadog", "b", 5, T0, totals={"x": 1.0})
    side.sink_failed("datadog", "b", "not mine", T0)
    side.release_sink("datadog", "b")
    (state,) = side.sink_states()
    assert (state.position, state.in_flight, state.owner, state.last_error) == (0, None, "a", None)
    assert side.metric_totals("datadog") == {}
    assert not side.mark_in_flight("nowhere", "a", 1)  # no such sink: nothing created
    assert not side.advance_sink("nowhere", "a", 1, T0)
    assert [s.sink for s in side.sink_states()] == ["datadog"]


def test_a_checkpoint_never_moves_back(side: DynamoSide) -> None:
    side.lease_sink("datadog", "a", T0, 30)
    side.advance_sink("datadog", "a", 10, T0)
    assert side.advance_sink("datadog", "a", 4, T0 + 1, totals={"x": 1.0})

    assert side.sink_states()[0].position == 10
    assert side.metric_totals("datadog") == {"x": 1.0}


def test_an_advance_that_another_write_overtook_reads_again_and_counts_once(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    side.lease_sink("datadog", "a", T0, 30)
    theirs = meanwhile(
        client,
        "TransactWriteItems",
        lambda: other.advance_sink("datadog", "a", 7, T0, 1, {"x": 1.0}),
    )

    assert side.advance_sink("datadog", "a", 5, T0 + 1, 2, {"x": 1.0, "y": 1.0})

    assert theirs == [True]
    (state,) = side.sink_states()
    assert (state.position, state.dropped) == (7, 3)  # the higher position stays
    assert side.metric_totals("datadog") == {"x": 2.0, "y": 1.0}


def test_an_advance_by_a_holder_that_lost_the_sink_meanwhile_writes_nothing(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    side.lease_sink("datadog", "a", T0, 30)
    meanwhile(client, "TransactWriteItems", lambda: other.lease_sink("datadog", "b", T0, 30, "a"))

    assert not side.advance_sink("datadog", "a", 5, T0 + 1, totals={"x": 1.0})

    assert side.sink_states()[0].position == 0 and side.metric_totals("datadog") == {}


def test_more_series_than_one_transaction_holds_are_all_folded(
    side: DynamoSide, client: Any
) -> None:
    side.lease_sink("datadog", "a", T0, 30)
    sent = calls(client, "TransactWriteItems")
    totals = {f"series.{i:03d}": float(i) for i in range(250)}

    assert side.advance_sink("datadog", "a", 3, T0, totals=totals)
    assert side.advance_sink("datadog", "a", 4, T0 + 1, totals=totals)

    assert side.metric_totals("datadog") == {k: 2 * v for k, v in totals.items()}
    assert all(len(request["TransactItems"]) <= 100 for request in sent)


def test_a_failed_delivery_keeps_the_checkpoint_and_records_the_error(side: DynamoSide) -> None:
    side.lease_sink("datadog", "a", T0, 30)
    side.advance_sink("datadog", "a", 3, T0)
    side.mark_in_flight("datadog", "a", 8)

    side.sink_failed("datadog", "a", "HTTP 503 from Datadog", T0 + 1)

    (state,) = side.sink_states()
    assert (state.position, state.in_flight, state.last_error) == (3, None, "HTTP 503 from Datadog")
    side.advance_sink("datadog", "a", 8, T0 + 2)
    assert side.sink_states()[0].last_error is None


def test_a_released_sink_is_free_for_another_forwarder_at_once(
    side: DynamoSide, other: DynamoSide
) -> None:
    first, second = side, other
    first.lease_sink("datadog", "a", T0, 30)
    first.mark_in_flight("datadog", "a", 12)
    first.release_sink("datadog", "a")

    taken = second.lease_sink("datadog", "b", T0 + 1, 30)
    assert taken is not None and (taken.owner, taken.in_flight) == ("b", 12)


# -- alerts --


def stale(count: int = 1, workflow: str = "ohlcv") -> Problem:
    return Problem("stale", workflow, "", f"{count} file(s) stale", (ITEM,), count)


def sync(side: DynamoSide, problems: list[Problem], now: float, **kw: Any) -> list[int]:
    evaluated = kw.pop("evaluated", [("stale", "ohlcv")])
    return side.sync_alerts(problems, evaluated, NOTIFIERS, now, 4 * HOUR, 2)


def events(side: DynamoSide) -> list[tuple[str, str]]:
    return [(d.notifier, d.event) for a in side.alerts(0) for d in a.deliveries]


def test_a_new_problem_opens_one_alert_with_one_notification_per_notifier(
    side: DynamoSide,
) -> None:
    made = sync(side, [stale()], T0)

    (alert,) = side.alerts(0)
    assert (alert.rule, alert.workflow, alert.group, alert.state, alert.since) == (
        "stale", "ohlcv", "", "firing", T0,
    )  # fmt: skip
    assert alert.items == (ITEM,) and alert.summary == "1 file(s) stale"
    assert sorted(made) == sorted(d.id for d in alert.deliveries)
    assert events(side) == [("mail", "firing"), ("slack", "firing")]
    assert {(d.status, d.attempts, d.next_attempt) for d in alert.deliveries} == {
        ("pending", 0, T0)
    }


def test_the_same_problem_found_again_sends_nothing_new_until_renotify(side: DynamoSide) -> None:
    sync(side, [stale()], T0)

    assert sync(side, [stale(2)], T0 + 60) == []
    (alert,) = side.alerts(0)
    assert alert.count == 2 and alert.summary == "2 file(s) stale"
    assert len(sync(side, [stale(2)], T0 + 4 * HOUR)) == 2
    assert events(side)[-2:] == [("mail", "reminder"), ("slack", "reminder")]


def test_reminders_stop_after_max_renotify(side: DynamoSide) -> None:
    sync(side, [stale()], T0)
    sent = [len(sync(side, [stale()], T0 + k * 4 * HOUR)) for k in range(1, 6)]

    assert sent == [2, 2, 0, 0, 0]
    assert side.alerts(0)[0].reminders == 2


def test_a_problem_gone_resolves_its_alert_once_and_it_stops_being_recent(
    side: DynamoSide,
) -> None:
    sync(side, [stale()], T0)

    assert len(sync(side, [], T0 + 60)) == 2
    assert sync(side, [], T0 + 120) == []
    (alert,) = side.alerts(0)
    assert (alert.state, alert.resolved_at) == ("resolved", T0 + 60)
    assert events(side)[-2:] == [("mail", "resolved"), ("slack", "resolved")]
    assert side.alerts(T0 + 60) != [] and side.alerts(T0 + 61) == []


def test_an_alert_of_a_rule_not_evaluated_this_time_stays_open(side: DynamoSide) -> None:
    sync(side, [stale()], T0)

    assert sync(side, [], T0 + 60, evaluated=[("missing", "ohlcv")]) == []
    assert side.alerts(T0 + 3600)[0].state == "firing"  # firing alerts are always listed


def test_a_problem_that_returns_after_resolving_is_a_new_alert(side: DynamoSide) -> None:
    sync(side, [stale()], T0)
    sync(side, [], T0 + 60)
    sync(side, [stale()], T0 + 120)

    alerts = side.alerts(0)
    assert [a.state for a in alerts] == ["resolved", "firing"]
    assert alerts[1].since == T0 + 120 and alerts[0].id < alerts[1].id


def test_workflows_whose_names_hold_the_key_separator_are_distinct_problems(
    side: DynamoSide,
) -> None:
    a = Problem("missing", "a#b", "c", "late", (), 0)
    b = Problem("missing", "a", "b#c", "late", (), 0)

    sync(side, [a, b], T0, evaluated=[("missing", "a#b"), ("missing", "a")])

    assert sorted((x.workflow, x.group) for x in side.alerts(0)) == [("a", "b#c"), ("a#b", "c")]


def test_two_evaluators_finding_one_problem_at_once_open_it_once(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    theirs = meanwhile(client, "TransactWriteItems", lambda: sync(other, [stale()], T0))

    assert sync(side, [stale(3)], T0 + 1) == []  # the other one opened it first

    (alert,) = side.alerts(0)
    assert len(theirs[0]) == 2 and len(alert.deliveries) == 2
    assert (alert.since, alert.count) == (T0, 3)  # ours updated it after all


def test_two_evaluators_due_a_reminder_at_once_make_it_once(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    sync(side, [stale()], T0)
    theirs = meanwhile(client, "TransactWriteItems", lambda: sync(other, [stale()], T0 + 4 * HOUR))

    assert sync(side, [stale()], T0 + 4 * HOUR) == []

    assert len(theirs[0]) == 2 and side.alerts(0)[0].reminders == 1


def test_two_evaluators_resolving_at_once_resolve_once(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    sync(side, [stale()], T0)
    theirs = meanwhile(client, "TransactWriteItems", lambda: sync(other, [], T0 + 60))

    assert sync(side, [], T0 + 60) == []

    assert len(theirs[0]) == 2 and events(side).count(("mail", "resolved")) == 1


def test_a_problem_resolved_meanwhile_by_another_evaluator_is_opened_again(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    sync(side, [stale()], T0)
    meanwhile(client, "TransactWriteItems", lambda: sync(other, [], T0 + 60))

    assert len(sync(side, [stale()], T0 + 61)) == 2

    assert [a.state for a in side.alerts(0)] == ["resolved", "firing"]


def test_a_notification_is_taken_by_one_sender_and_sent_once(
    side: DynamoSide, other: DynamoSide
) -> None:
    first, second = side, other
    sync(first, [stale()], T0)

    taken = first.take_deliveries("mail", "a", T0 + 1, 60)
    assert [(d.event, d.status, d.attempts, a.rule) for d, a in taken] == [
        ("firing", "sending", 1, "stale")
    ]
    assert second.take_deliveries("mail", "b", T0 + 2, 60) == []
    first.deliveries_sent([d.id for d, _ in taken], T0 + 3)
    assert second.take_deliveries("mail", "b", T0 + 100, 60) == []
    (mail,) = [d for d in first.alerts(0)[0].deliveries if d.notifier == "mail"]
    assert (mail.status, mail.sent_at, mail.attempts) == ("sent", T0 + 3, 1)


def test_two_senders_taking_at_once_never_take_one_notification_twice(
    side: DynamoSide, other: DynamoSide, client: Any
) -> None:
    for k in range(3):
        sync(side, [stale(workflow=f"w{k}")], T0, evaluated=[])
    theirs = meanwhile(client, "UpdateItem", lambda: other.take_deliveries("mail", "b", T0 + 1, 60))

    ours = side.take_deliveries("mail", "a", T0 + 1, 60)

    assert ours == [] and len(theirs[0]) == 3  # the candidates ours found were all gone


def test_a_failed_notification_is_retried_when_due_and_a_dead_senders_lease_expires(
    side: DynamoSide,
) -> None:
    sync(side, [stale()], T0)
    (taken,) = side.take_deliveries("slack", "a", T0, 60)
    side.deliveries_failed([taken[0].id], "HTTP 500 from hooks.example", T0 + 30)

    assert side.take_deliveries("slack", "a", T0 + 10, 60) == []
    (again,) = side.take_deliveries("slack", "a", T0 + 30, 60)
    assert again[0].attempts == 2
    assert side.take_deliveries("slack", "b", T0 + 90, 60) == []  # lease ends at T0 + 90
    (late,) = side.take_deliveries("slack", "b", T0 + 91, 60)
    assert late[0].id == taken[0].id
    (record,) = [d for d in side.alerts(0)[0].deliveries if d.notifier == "slack"]
    assert (record.last_error, record.status, record.attempts) == (
        "HTTP 500 from hooks.example", "sending", 3,
    )  # fmt: skip


def test_recording_notifications_that_do_not_exist_writes_nothing(side: DynamoSide) -> None:
    side.deliveries_sent([12345], T0)
    side.deliveries_failed([12346], "gone", T0)

    assert side.take_deliveries("mail", "a", T0 + 10, 60) == []


# -- named values and unrouted files --


def test_named_values_are_kept_and_swapped_only_from_what_the_caller_saw(
    side: DynamoSide, other: DynamoSide
) -> None:
    first, second = side, other
    assert first.get_info("alerts.last_report") is None

    assert first.swap_info("alerts.last_report", None, "100")
    assert not second.swap_info("alerts.last_report", None, "100")
    assert not second.swap_info("alerts.last_report", "99", "200")
    assert second.swap_info("alerts.last_report", "100", "200")
    first.set_info("alerts.last_report", "300")
    assert second.get_info("alerts.last_report") == "300"


def test_unrouted_files_are_replaced_as_a_whole_listed_by_key_and_counted(
    side: DynamoSide,
) -> None:
    side.set_unrouted([UnroutedFile(f"x/{i:03d}.bin", i, T0, "no workflow") for i in range(60)])
    assert side.count_unrouted() == 60

    keep = [UnroutedFile(f"x/{i:03d}.bin", i, T0, "no workflow") for i in range(0, 60, 2)]
    side.set_unrouted([*keep, UnroutedFile("a/new.txt", 7, T0 + 1.5, "hidden")])

    listed = side.unrouted()
    assert [f.key for f in listed] == ["a/new.txt", *(f.key for f in keep)]
    assert listed[0] == UnroutedFile("a/new.txt", 7, T0 + 1.5, "hidden")
    assert side.count_unrouted() == 31
    assert [f.key for f in side.unrouted(limit=3)] == ["a/new.txt", "x/000.bin", "x/002.bin"]
    assert side.unrouted(limit=0) == []
    side.set_unrouted([])
    assert side.count_unrouted() == 0 and side.unrouted() == []


def test_an_unchanged_unrouted_listing_writes_nothing(side: DynamoSide, client: Any) -> None:
    files = [UnroutedFile("odd/a.bin", 1, T0, "no workflow")]
    side.set_unrouted(files)
    writes = calls(client, "BatchWriteItem")

    side.set_unrouted(files)
    side.set_unrouted([*files, files[0]])  # the same key twice is one file

    assert writes == []


# -- errors --


def test_a_missing_table_is_a_one_line_ledger_error_naming_it(client: Any) -> None:
    side = DynamoSide(client, "no-such-meta", _no_transitions)

    with pytest.raises(LedgerError) as caught:
        side.get_info("x")
    assert "no-such-meta" in str(caught.value) and "\n" not in str(caught.value)
    assert "ResourceNotFoundException" in str(caught.value)
    assert repr(side) == "DynamoSide('no-such-meta')"


def test_a_write_dynamodb_refuses_is_a_ledger_error_not_a_lost_race(side: DynamoSide) -> None:
    huge = Problem("stale", "ohlcv", "", "x" * 500_000, (), 1)  # over 400 KB per item

    with pytest.raises(LedgerError) as caught:
        sync(side, [huge], T0)
    assert "\n" not in str(caught.value) and "kept changing" not in str(caught.value)
    assert side.alerts(0) == []
