"""PostgresWakeup against a real server: workers sleeping on the ledger are woken by the
transactions that make files TODO (registrations, releases, reaps, retries, markers), not by
claims, not by another ledger on the same server, and again after the server restarts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from postgres_server import PostgresServer

from ingestflow.adapters.state.postgres import PostgresStatusStore
from ingestflow.adapters.state.postgres_wakeup import PostgresWakeup
from ingestflow.config.secrets import Secret
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow

T0 = 1_700_000_000.0
BUCKET = "landing"
FLOW = Workflow(name="ohlcv", prefix="ohlcv/", batch_size=1, max_batch_files=10, max_wait=0.0)
QUIET = 0.3  # how long a wait must stay quiet when nothing was announced


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    running = PostgresServer().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def url(server: PostgresServer) -> str:
    return str(server.new_database())


@pytest.fixture
def store(url: str) -> Iterator[PostgresStatusStore]:
    opened = PostgresStatusStore(url)
    opened.sync_workflows([FLOW])
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def wakeup(url: str, store: PostgresStatusStore) -> Iterator[PostgresWakeup]:
    listening = PostgresWakeup(url)
    try:
        yield listening
    finally:
        listening.close()


def files(*names: str, etag: str = "v1") -> list[tuple[ObjectInfo, str]]:
    return [(ObjectInfo(f"ohlcv/{n}.csv", 10, etag, T0), "ohlcv") for n in names]


def woken(wakeup: PostgresWakeup) -> bool:
    return wakeup.wait(10.0)


def test_a_registration_in_another_store_wakes_the_listener_at_once(
    url: str, wakeup: PostgresWakeup
) -> None:
    assert not wakeup.wait(QUIET)
    other = PostgresStatusStore(url)
    try:
        started = time.monotonic()
        other.register(BUCKET, files("a", "b"), T0)
        assert woken(wakeup)
        assert time.monotonic() - started < 5.0
    finally:
        other.close()
    assert not wakeup.wait(QUIET)  # one wake-up per commit, then quiet again


def test_claims_and_unchanged_registrations_wake_nobody(
    store: PostgresStatusStore, wakeup: PostgresWakeup
) -> None:
    store.register(BUCKET, files("a"), T0)
    assert woken(wakeup)
    store.register(BUCKET, files("a"), T0 + 1)  # the same file again: nothing changed
    assert not wakeup.wait(QUIET)
    batch = store.claim(FLOW, T0 + 2, "host:1")
    assert batch is not None
    assert not wakeup.wait(QUIET)
    store.finish(FLOW, batch.batch_id, [FileOutcome.done("ohlcv/a.csv", "v1", "out", 1)], T0 + 3)
    assert not wakeup.wait(QUIET)  # DONE: no new work


@pytest.mark.parametrize("how", ["release", "reap", "retry", "requeue"])
def test_every_change_that_makes_a_file_todo_again_wakes_the_listener(
    store: PostgresStatusStore, wakeup: PostgresWakeup, how: str
) -> None:
    store.register(BUCKET, files("a"), T0)
    assert woken(wakeup)
    batch = store.claim(FLOW, T0 + 1, "host:1")
    assert batch is not None
    changes: dict[str, Any] = {
        "release": lambda: store.release_batch(batch.batch_id, T0 + 2, "stopping"),
        "reap": lambda: store.reap([FLOW], T0 + 10_000),
        "requeue": lambda: store.finish(
            FLOW, batch.batch_id, [FileOutcome.done("ohlcv/a.csv", "v0", "out", 1)], T0 + 2
        ),
    }
    if how == "retry":
        outcome = FileOutcome.failed("ohlcv/a.csv", "v1", "bad", retryable=False)
        store.finish(FLOW, batch.batch_id, [outcome], T0 + 2)
        assert not wakeup.wait(QUIET)
        store.retry(BUCKET, ["ohlcv/a.csv"], T0 + 3)
    else:
        changes[how]()
    assert woken(wakeup)


def test_a_new_marker_wakes_the_listener(
    store: PostgresStatusStore, wakeup: PostgresWakeup
) -> None:
    store.add_markers(BUCKET, [("ohlcv", "ohlcv/2024/")])
    assert woken(wakeup)
    store.add_markers(BUCKET, [("ohlcv", "ohlcv/2024/")])  # already known
    assert not wakeup.wait(QUIET)


def test_another_ledger_on_the_same_server_does_not_wake_it(
    server: PostgresServer, wakeup: PostgresWakeup
) -> None:
    other = PostgresStatusStore(server.new_database())
    try:
        other.register(BUCKET, files("a"), T0)
    finally:
        other.close()
    assert not wakeup.wait(QUIET)


def test_after_a_server_restart_the_listener_reconnects_and_wakes_again(
    server: PostgresServer, url: str, store: PostgresStatusStore, wakeup: PostgresWakeup
) -> None:
    server.restart()
    # The broken connection is noticed and reported as a wake-up (notifications were lost),
    # then the listener reconnects and hears the next commit.
    deadline = time.monotonic() + 20
    while not wakeup.wait(0.2):
        assert time.monotonic() < deadline, "the broken connection was never noticed"
    while wakeup.wait(0.2):  # reconnected: quiet until something happens
        assert time.monotonic() < deadline
    store.register(BUCKET, files("b"), T0)
    assert woken(wakeup)


def test_the_listener_never_shows_its_password(url: str) -> None:
    listening = PostgresWakeup(
        url.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@"),
        Secret("an0ther-s3cret"),
    )
    try:
        assert "s3cr3t-pw" not in repr(listening)
        assert "an0ther-s3cret" not in repr(listening)
    finally:
        listening.close()
