"""The ledger's metrics side in the StatusStore contract: the change stream's end, ended files by
time, and metrics sinks' checkpoints (leases, in-flight marks, totals). Adapter independent."""

from __future__ import annotations

from ledger_backends import Ledger

from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

T0 = 1_700_000_000.0
BUCKET = "landing"
W = Workflow("ohlcv", "ohlcv/", batch_size=2, max_wait=0.0, max_batch_files=2)


def process(store: StatusStore, names: list[str], start: float, end: float, bad: str = "") -> None:
    """Register `names`, claim them at `start`, finish them at `end` (`bad` fails)."""
    files = [(ObjectInfo(f"ohlcv/{n}.csv", 100 + i, f"v{n}", start - 10), W.name) for i, n in
             enumerate(names)]  # fmt: skip
    store.register(BUCKET, files, start - 5)
    batch = store.claim(W, start, "host:1")
    assert batch is not None and len(batch.files) == len(names)
    outcomes = [
        FileOutcome.failed(f.key, f.etag, "column 'x', row 2: no", retryable=False)
        if f.key == f"ohlcv/{bad}.csv"
        else FileOutcome.done(f.key, f.etag, f"out/{f.key}", 1)
        for f in batch.files
    ]
    store.finish(W, batch.batch_id, outcomes, end)


def test_the_end_of_the_change_stream_is_the_newest_transition_id(store: StatusStore) -> None:
    assert store.last_transition_id() == 0
    process(store, ["a", "b"], T0, T0 + 1)

    stream = store.transitions_after(0, limit=100)
    assert store.last_transition_id() == stream[-1].id == 6  # 2 x registered, claimed, done


def test_ended_files_are_found_by_time_window_in_time_order_and_pages(store: StatusStore) -> None:
    process(store, ["a", "b"], T0, T0 + 10)
    process(store, ["c", "d"], T0 + 20, T0 + 70, bad="d")

    window = store.ended_between(T0, T0 + 60)
    assert [(t.key, t.new_status) for t in window] == [
        ("ohlcv/a.csv", Status.DONE),
        ("ohlcv/b.csv", Status.DONE),
    ]
    later = store.ended_between(T0 + 60, T0 + 120)
    assert {(t.key, t.new_status) for t in later} == {
        ("ohlcv/c.csv", Status.DONE),
        ("ohlcv/d.csv", Status.FAILED),
    }
    first = store.ended_between(T0, T0 + 120, limit=3)
    rest = store.ended_between(T0, T0 + 120, after=(first[-1].at, first[-1].id))
    assert [t.key for t in first + rest] == [t.key for t in window + later]
    assert store.ended_between(T0 + 10, T0 + 10) == []  # end is exclusive


def test_ended_files_that_share_one_time_are_paged_each_exactly_once(store: StatusStore) -> None:
    names = [f"tie{i}" for i in range(6)]
    for pair in (names[0:2], names[2:4], names[4:6]):  # three batches ending at one time
        process(store, pair, T0, T0 + 30, bad="tie3")
    seen: list[str] = []
    after = None
    while page := store.ended_between(T0, T0 + 60, after, limit=2):
        assert len(page) <= 2
        seen += [t.key for t in page]
        after = (page[-1].at, page[-1].id)
    assert sorted(seen) == sorted(f"ohlcv/{n}.csv" for n in names)
    assert len(seen) == len(set(seen))


def test_a_sink_is_created_at_position_zero_and_leased_to_one_owner_at_a_time(
    store: StatusStore,
) -> None:
    taken = store.lease_sink("datadog", "a", T0, 30)

    assert taken is not None and (taken.position, taken.owner) == (0, "a")
    assert store.lease_sink("datadog", "b", T0 + 10, 30) is None
    renewed = store.lease_sink("datadog", "a", T0 + 10, 30)
    assert renewed is not None and renewed.lease_until == T0 + 40
    assert store.lease_sink("datadog", "b", T0 + 41, 30) is not None  # expired: taken over
    assert store.lease_sink("other", "b", T0, 30) is not None  # sinks are independent


def test_a_dead_holder_is_taken_over_before_its_lease_ends(store: StatusStore) -> None:
    store.lease_sink("jsonl", "dead", T0, 30)

    assert store.lease_sink("jsonl", "b", T0 + 1, 30) is None
    taken = store.lease_sink("jsonl", "b", T0 + 1, 30, take_over="dead")
    assert taken is not None and taken.owner == "b"


def test_a_delivery_is_marked_in_flight_then_advanced_with_its_totals(store: StatusStore) -> None:
    store.lease_sink("prometheus", "a", T0, 30)

    assert store.mark_in_flight("prometheus", "a", 7)
    (state,) = store.sink_states()
    assert (state.position, state.in_flight) == (0, 7)
    assert store.advance_sink("prometheus", "a", 7, T0 + 1, dropped=2, totals={"x": 1.5})
    assert store.advance_sink("prometheus", "a", 9, T0 + 2, totals={"x": 2.0, "y": 1.0})

    (state,) = store.sink_states()
    assert (state.position, state.in_flight, state.dropped) == (9, None, 2)
    assert state.last_success == T0 + 2
    assert store.metric_totals("prometheus") == {"x": 3.5, "y": 1.0}
    assert store.metric_totals("datadog") == {}


def test_only_the_holder_may_mark_or_advance_a_sink(store: StatusStore) -> None:
    store.lease_sink("datadog", "a", T0, 30)

    assert not store.mark_in_flight("datadog", "b", 5)
    assert not store.advance_sink("datadog", "b", 5, T0, totals={"x": 1.0})
    (state,) = store.sink_states()
    assert (state.position, state.in_flight) == (0, None)
    assert store.metric_totals("datadog") == {}


def test_a_checkpoint_never_moves_back(store: StatusStore) -> None:
    store.lease_sink("datadog", "a", T0, 30)
    store.advance_sink("datadog", "a", 10, T0)
    store.advance_sink("datadog", "a", 4, T0 + 1)

    assert store.sink_states()[0].position == 10


def test_a_failed_delivery_keeps_the_checkpoint_and_records_the_error(store: StatusStore) -> None:
    store.lease_sink("datadog", "a", T0, 30)
    store.advance_sink("datadog", "a", 3, T0)
    store.mark_in_flight("datadog", "a", 8)

    store.sink_failed("datadog", "a", "HTTP 503 from Datadog", T0 + 1)

    (state,) = store.sink_states()
    assert (state.position, state.in_flight, state.last_error) == (3, None, "HTTP 503 from Datadog")
    store.advance_sink("datadog", "a", 8, T0 + 2)
    assert store.sink_states()[0].last_error is None


def test_a_released_sink_is_free_for_another_forwarder_at_once(store: StatusStore) -> None:
    store.lease_sink("datadog", "a", T0, 30)
    store.release_sink("datadog", "a")

    taken = store.lease_sink("datadog", "b", T0 + 1, 30)
    assert taken is not None and taken.owner == "b"


def test_checkpoints_survive_reopening_the_ledger(ledger: Ledger) -> None:
    first = ledger.open()
    first.lease_sink("datadog", "a", T0, 30)
    first.mark_in_flight("datadog", "a", 12)
    ledger.close(first)

    again = ledger.open()
    (state,) = again.sink_states()
    assert (state.sink, state.position, state.in_flight, state.owner) == ("datadog", 0, 12, "a")
