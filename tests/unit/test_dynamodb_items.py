"""The DynamoDB ledger's item conversions (pure): file items and stream records shaped like
tests/fixtures/aws-events/dynamoStreamEvent.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.dynamodb_items import (
    file_item,
    record_from_item,
    sortable,
    status_sort,
    transition_from_stream_record,
)
from ingestflow.domain.records import FileRecord
from ingestflow.domain.status import Status

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "aws-events" / "dynamoStreamEvent.json"
T0 = 1_700_000_000.0

TODO = FileRecord("landing", "in/a.csv", "ohlcv", "in/", 321, "v1", T0, Status.TODO)
CLAIMED = FileRecord(
    "landing", "in/a.csv", "ohlcv", "in/", 321, "v1", T0, Status.PROCESSING, 1, "b1", T0 + 300,
    T0 + 5,
)  # fmt: skip


def stream_record(event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Any:
    """A record of the fixture's shape carrying these images."""
    record: dict[str, Any] = json.loads(FIXTURE.read_text())["Records"][1]
    record["eventName"] = event
    record["dynamodb"]["Keys"] = {"pk": {"S": "landing/in/a.csv"}}
    for name, image in (("OldImage", old), ("NewImage", new)):
        record["dynamodb"].pop(name, None)
        if image is not None:
            record["dynamodb"][name] = image
    return record


def test_a_file_item_reads_back_as_the_same_record() -> None:
    for record in (TODO, CLAIMED):
        assert record_from_item(file_item(record, rev=3)) == record


def test_a_file_item_omits_fields_that_are_none() -> None:
    item = file_item(TODO, rev=1)
    assert "batch_id" not in item and "error" not in item
    assert item["status"] == {"S": "TODO"}
    assert item["pk"] == {"S": "landing/in/a.csv"}


def test_sortable_times_sort_as_the_numbers_do() -> None:
    times = [-5.5, -1.0, 0.0, 1e-9, 1.0, T0, T0 + 0.000001, T0 + 0.001, 1e12]
    assert sorted(times, key=sortable) == times
    assert status_sort(T0, "a", "x") < status_sort(T0, "a/b", "x")


def test_a_status_change_in_the_stream_is_a_full_transition() -> None:
    old = file_item(TODO, rev=1, changed_at=T0, reason="registered", tid=1)
    new = file_item(CLAIMED, rev=2, changed_at=T0 + 5, reason="claimed", tid=7)

    t = transition_from_stream_record(stream_record("MODIFY", old, new))

    assert t is not None
    assert (t.id, t.bucket, t.key, t.workflow) == (7, "landing", "in/a.csv", "ohlcv")
    assert (t.old_status, t.new_status, t.at, t.reason) == (
        Status.TODO, Status.PROCESSING, T0 + 5, "claimed",
    )  # fmt: skip
    assert t.old == TODO.as_dict() and t.new == CLAIMED.as_dict()


def test_an_inserted_file_is_a_transition_from_nothing() -> None:
    new = file_item(TODO, rev=1, changed_at=T0, reason="registered", tid=1)

    t = transition_from_stream_record(stream_record("INSERT", None, new))

    assert t is not None and (t.old_status, t.new_status, t.old) == (None, Status.TODO, None)


def test_an_update_that_keeps_the_status_is_not_a_transition() -> None:
    old = file_item(TODO, rev=1, changed_at=T0, reason="registered", tid=1)
    new = file_item(TODO, rev=2, changed_at=T0, reason="registered", tid=1)

    assert transition_from_stream_record(stream_record("MODIFY", old, new)) is None


def test_removals_and_other_items_are_not_transitions() -> None:
    old = file_item(TODO, rev=1)
    assert transition_from_stream_record(stream_record("REMOVE", old, None)) is None
    fixture = json.loads(FIXTURE.read_text())["Records"]
    assert [transition_from_stream_record(r) for r in fixture] == [None, None]


def test_without_a_ledger_id_the_sequence_number_is_the_id() -> None:
    new = file_item(TODO, rev=1, changed_at=T0, reason="registered")

    t = transition_from_stream_record(stream_record("INSERT", None, new))

    assert t is not None and t.id == 222
