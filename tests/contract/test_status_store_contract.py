"""The StatusStore contract (ingestflow/ports.py): every ledger adapter must pass this module.

Tests use only the Protocol's methods, so they run unchanged against every adapter listed in
`ledger_backends.ADAPTERS` (the `store` / `ledger` fixtures are parametrised over it). Time is
always an argument: tests pass `now` explicitly and never sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import pairwise
from pathlib import Path
from typing import Any

from ledger_backends import Ledger

from ingestflow.domain.batching import Backlog, readiness
from ingestflow.domain.records import (
    Batch,
    FileOutcome,
    FileRecord,
    Finished,
    ObjectInfo,
    UnroutedFile,
)
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

T0 = 1_700_000_000.0
BUCKET = "landing"
OWNER = "host-a:101"
WORKER = Path(__file__).with_name("_claim_worker.py")

TODO, PROCESSING, DONE, FAILED = Status.TODO, Status.PROCESSING, Status.DONE, Status.FAILED


def wf(**overrides: Any) -> Workflow:
    """A workflow with small, explicit limits; tests override what they exercise."""
    settings: dict[str, Any] = {
        "name": "ohlcv",
        "prefix": "ohlcv/",
        "batch_size": 3,
        "max_wait": 60.0,
        "max_batch_bytes": 1_000_000,
        "max_attempts": 3,
        "lease": 300.0,
        "retry_backoff": 5.0,
        "stale_after": 3600.0,
    }
    settings.update(overrides)
    settings.setdefault("max_batch_files", settings["batch_size"])  # a batch is batch_size files
    return Workflow(**settings)


WF = wf()
ONE = wf(batch_size=1)  # every waiting file is a ready batch of one
TRADES = wf(name="trades", prefix="trades/")


def key(name: str, workflow: Workflow = WF) -> str:
    return f"{workflow.prefix}{name}.csv"


def obj(
    name: str, *, size: int = 100, etag: str = "v1", mtime: float = T0, workflow: Workflow = WF
) -> ObjectInfo:
    return ObjectInfo(key(name, workflow), size, etag, mtime)


def register(
    store: StatusStore,
    *objects: ObjectInfo,
    workflow: Workflow = WF,
    bucket: str = BUCKET,
    now: float = T0,
) -> list[Any]:
    """Register `objects`; the transitions that call wrote, read back from the change stream
    (register returns only their number)."""
    last = stream_end(store)
    written = store.register(bucket, [(o, workflow.name) for o in objects], now)
    changes = store.transitions_after(last, limit=10_000)
    assert written == len(changes)
    return changes


def finish(
    store: StatusStore, workflow: Workflow, batch_id: str, outcomes: list[Any], now: float
) -> list[Any]:
    """Record outcomes; the transitions that call wrote, read back from the change stream
    (finish returns only how many files went each way, checked against them here)."""
    last = stream_end(store)
    summary = store.finish(workflow, batch_id, outcomes, now)
    changes = store.transitions_after(last, limit=10_000)
    reasons = Counter(
        "done"
        if t.new_status is DONE
        else "failed"
        if t.new_status is FAILED
        else "retried"
        if t.reason == "retryable failure"
        else "requeued"
        for t in changes
    )
    assert (summary.done, summary.failed, summary.retried, summary.requeued) == (
        reasons["done"],
        reasons["failed"],
        reasons["retried"],
        reasons["requeued"],
    )
    assert summary.ignored == len({o.key for o in outcomes}) - len(changes)
    return changes


def stream_end(store: StatusStore) -> int:
    """The id of the last transition in the change stream (0 when empty)."""
    last = 0
    while page := store.transitions_after(last, limit=1000):
        last = page[-1].id
    return last


def claim(
    store: StatusStore, workflow: Workflow = WF, now: float = T0, owner: str = OWNER
) -> Batch:
    """Claim a batch that must be ready."""
    batch = store.claim(workflow, now, owner)
    assert batch is not None, f"expected a ready batch of {workflow.name} at now={now}"
    return batch


def ok(record: FileRecord) -> FileOutcome:
    return FileOutcome.done(record.key, record.etag, f"out/{record.key}.parquet", rows=10)


def broken(
    record: FileRecord, error: str = "column Close, row 3: 'abc' is not a double"
) -> FileOutcome:
    return FileOutcome.failed(record.key, record.etag, error, retryable=False)


def flaky(record: FileRecord, error: str = "I/O error: connection reset") -> FileOutcome:
    return FileOutcome.failed(record.key, record.etag, error, retryable=True)


def rec(store: StatusStore, k: str, bucket: str = BUCKET) -> FileRecord:
    record = store.get(bucket, k)
    assert record is not None, f"{bucket}/{k} is not in the ledger"
    return record


def keys_of(batch: Batch) -> set[str]:
    return {f.key for f in batch.files}


def moves(transitions: list[Any]) -> list[tuple[Status | None, Status]]:
    return [(t.old_status, t.new_status) for t in transitions]


def assert_counts_match_files(store: StatusStore) -> None:
    """counts() and backlog() agree with the records themselves."""
    records = store.files()
    assert store.counts() == {s: sum(r.status is s for r in records) for s in Status}
    for name in {r.workflow for r in records}:
        todo = [r for r in records if r.status is TODO and r.workflow == name]
        backlog = store.backlog(name, T0 + 10**6)
        assert (backlog.count, backlog.total_bytes) == (len(todo), sum(r.size for r in todo))


def one_of_each_status(store: StatusStore) -> dict[Status, str]:
    """Four files of ONE, one per status: the oldest DONE, then FAILED, PROCESSING, TODO."""
    names = {DONE: "done", FAILED: "failed", PROCESSING: "processing", TODO: "todo"}
    register(
        store,
        *(obj(n, workflow=ONE, mtime=T0 + i) for i, n in enumerate(names.values())),
        workflow=ONE,
    )
    done = claim(store, ONE, T0 + 10)
    store.finish(ONE, done.batch_id, [ok(done.files[0])], T0 + 11)
    failed = claim(store, ONE, T0 + 12)
    store.finish(ONE, failed.batch_id, [broken(failed.files[0])], T0 + 13)
    claim(store, ONE, T0 + 14)
    return {status: key(name) for status, name in names.items()}


# -- register ---------------------------------------------------------------------------------


def test_registering_a_file_creates_a_todo_record_from_its_object_info(
    store: StatusStore,
) -> None:
    info = ObjectInfo("ohlcv/2024/eurusd.csv", 1234, "etag-1", T0 - 30)

    written = store.register(BUCKET, [(info, "ohlcv")], T0)

    record = rec(store, info.key)
    assert (record.bucket, record.key, record.workflow) == (BUCKET, info.key, "ohlcv")
    assert record.prefix == "ohlcv/2024/"
    assert (record.size, record.etag, record.upload_time) == (1234, "etag-1", T0 - 30)
    assert record.status is TODO
    assert record.attempts == 0
    assert record.batch_id is None and record.lease_until is None
    assert record.error is None and record.output is None
    assert written == 1
    assert moves(store.history(BUCKET, info.key)) == [(None, TODO)]


def test_registering_the_same_file_twice_makes_one_record(store: StatusStore) -> None:
    a = obj("a")

    first = register(store, a, a)  # twice in one call
    second = register(store, a, now=T0 + 5)  # and again later

    assert len(first) == 1
    assert second == []
    assert [r.key for r in store.files()] == [a.key]
    assert len(store.history(BUCKET, a.key)) == 1
    assert store.counts()[TODO] == 1


def test_the_same_key_in_another_bucket_is_a_different_file(store: StatusStore) -> None:
    a = obj("a")

    register(store, a, bucket="landing-eu")
    register(store, a, bucket="landing-us")

    assert rec(store, a.key, "landing-eu").bucket == "landing-eu"
    assert rec(store, a.key, "landing-us").bucket == "landing-us"
    assert store.get(BUCKET, a.key) is None
    assert store.counts()[TODO] == 2
    assert len(store.history("landing-eu", a.key)) == 1
    assert len(store.history("landing-us", a.key)) == 1
    assert_counts_match_files(store)


def test_get_returns_none_for_an_unknown_file(store: StatusStore) -> None:
    register(store, obj("a"))

    assert store.get(BUCKET, key("missing")) is None
    assert store.get("other-bucket", key("a")) is None


# -- re-uploads -------------------------------------------------------------------------------


def test_a_new_etag_on_a_done_file_makes_it_todo_again_with_attempts_reset(
    store: StatusStore,
) -> None:
    register(store, obj("a"), workflow=ONE)
    batch = claim(store, ONE)
    store.finish(ONE, batch.batch_id, [ok(batch.files[0])], T0 + 1)

    same = register(store, obj("a"), workflow=ONE, now=T0 + 2)
    changed = register(store, obj("a", etag="v2", size=222, mtime=T0 + 3), workflow=ONE, now=T0 + 4)

    assert same == []
    assert moves(changed) == [(DONE, TODO)]
    assert changed[0].at == T0 + 4
    record = rec(store, key("a"))
    assert (record.status, record.etag, record.size, record.attempts) == (TODO, "v2", 222, 0)
    assert record.upload_time == T0 + 3
    assert moves(store.history(BUCKET, key("a")))[-1] == (DONE, TODO)
    assert claim(store, ONE, T0 + 5).files[0].etag == "v2"
    assert_counts_match_files(store)


def test_a_new_etag_on_a_failed_file_makes_it_todo_again_with_attempts_reset(
    store: StatusStore,
) -> None:
    register(store, obj("a"), workflow=ONE)
    batch = claim(store, ONE)
    store.finish(ONE, batch.batch_id, [broken(batch.files[0])], T0 + 1)
    assert rec(store, key("a")).attempts == 1

    changed = register(store, obj("a", etag="v2", mtime=T0 + 2), workflow=ONE, now=T0 + 2)

    assert moves(changed) == [(FAILED, TODO)]
    record = rec(store, key("a"))
    assert (record.status, record.etag, record.attempts) == (TODO, "v2", 0)
    assert claim(store, ONE, T0 + 3).files[0].etag == "v2"


def test_a_new_etag_on_a_todo_file_updates_it_in_place_without_a_transition(
    store: StatusStore,
) -> None:
    register(store, obj("a", size=100, etag="v1", mtime=T0))

    changed = register(store, obj("a", size=555, etag="v2", mtime=T0 + 7), now=T0 + 8)

    assert changed == []
    record = rec(store, key("a"))
    assert (record.status, record.size, record.etag, record.upload_time) == (
        TODO,
        555,
        "v2",
        T0 + 7,
    )
    assert len(store.history(BUCKET, key("a"))) == 1
    assert len(store.files()) == 1
    assert_counts_match_files(store)


def test_a_file_reuploaded_while_processing_returns_to_todo_when_its_batch_finishes(
    store: StatusStore,
) -> None:
    register(store, obj("a", etag="v1"), workflow=ONE)
    batch = claim(store, ONE)

    noted = register(store, obj("a", etag="v2", mtime=T0 + 1), workflow=ONE, now=T0 + 1)

    assert noted == []
    during = rec(store, key("a"))
    assert (during.status, during.batch_id) == (PROCESSING, batch.batch_id)

    finished = finish(store, ONE, batch.batch_id, [ok(batch.files[0])], T0 + 2)  # old etag

    assert moves(finished) == [(PROCESSING, TODO)]
    record = rec(store, key("a"))
    assert (record.status, record.etag, record.batch_id) == (TODO, "v2", None)
    assert record.output is None
    again = claim(store, ONE, T0 + 3)
    assert [f.etag for f in again.files] == ["v2"]
    assert_counts_match_files(store)


def test_a_file_registered_again_unchanged_while_processing_finishes_done(
    store: StatusStore,
) -> None:
    register(store, obj("a", etag="v1"), workflow=ONE)
    batch = claim(store, ONE)

    assert register(store, obj("a", etag="v1"), workflow=ONE, now=T0 + 1) == []
    finished = finish(store, ONE, batch.batch_id, [ok(batch.files[0])], T0 + 2)

    assert moves(finished) == [(PROCESSING, DONE)]


# -- claim: readiness and limits ----------------------------------------------------------------


def test_claim_returns_none_when_nothing_waits(store: StatusStore) -> None:
    assert store.claim(WF, T0, OWNER) is None
    assert store.claim(WF, T0 + 10**6, OWNER) is None
    assert store.active_batches() == []


def test_a_backlog_below_batch_size_is_not_claimed_before_max_wait(store: StatusStore) -> None:
    w = wf(batch_size=3, max_wait=60)
    register(store, obj("a"), obj("b"), workflow=w)

    assert store.claim(w, T0, OWNER) is None
    assert store.claim(w, T0 + 59.5, OWNER) is None
    assert store.counts()[TODO] == 2
    assert store.active_batches() == []
    assert all(len(store.history(BUCKET, r.key)) == 1 for r in store.files())


def test_a_backlog_of_batch_size_files_is_claimed_at_once(store: StatusStore) -> None:
    w = wf(batch_size=3, max_wait=3600)
    register(store, obj("a"), obj("b"), workflow=w)
    assert store.claim(w, T0, OWNER) is None

    register(store, obj("c"), workflow=w)
    batch = claim(store, w, T0)

    assert keys_of(batch) == {key("a"), key("b"), key("c")}


def test_a_partial_batch_is_claimed_once_its_oldest_file_has_waited_max_wait(
    store: StatusStore,
) -> None:
    w = wf(batch_size=3, max_wait=60)
    register(store, obj("a", mtime=T0), obj("b", mtime=T0 + 30), workflow=w, now=T0 + 30)

    assert store.claim(w, T0 + 59.9, OWNER) is None
    batch = claim(store, w, T0 + 60)

    assert keys_of(batch) == {key("a"), key("b")}


def test_a_backlog_reaching_max_batch_bytes_is_claimed_before_max_wait(
    store: StatusStore,
) -> None:
    w = wf(batch_size=10, max_wait=3600, max_batch_bytes=1000)
    register(store, obj("a", size=500), workflow=w)
    assert store.claim(w, T0, OWNER) is None

    register(store, obj("b", size=500), workflow=w)
    batch = claim(store, w, T0)

    assert keys_of(batch) == {key("a"), key("b")}


def test_a_batch_never_exceeds_max_batch_files(store: StatusStore) -> None:
    w = wf(batch_size=3, max_batch_files=5, max_wait=60)
    register(store, *(obj(f"f{i:02}", mtime=T0 + i) for i in range(12)), workflow=w, now=T0 + 12)

    sizes = [len(claim(store, w, T0 + 12).files) for _ in range(2)]
    assert sizes == [5, 5]
    assert store.claim(w, T0 + 12, OWNER) is None  # 2 left: below batch_size, not yet aged
    last = claim(store, w, T0 + 10 + 60)
    assert len(last.files) == 2
    assert store.counts()[PROCESSING] == 12


def test_a_batch_never_exceeds_max_batch_bytes(store: StatusStore) -> None:
    w = wf(batch_size=10, max_wait=3600, max_batch_bytes=1000)
    register(store, *(obj(n, size=400, mtime=T0 + i) for i, n in enumerate("abc")), workflow=w)

    batch = claim(store, w, T0 + 3)

    assert keys_of(batch) == {key("a"), key("b")}
    assert sum(f.size for f in batch.files) <= w.max_batch_bytes
    assert rec(store, key("c")).status is TODO
    assert store.claim(w, T0 + 3, OWNER) is None  # 400 bytes alone: not ready


def test_a_single_file_bigger_than_max_batch_bytes_is_still_claimed_alone(
    store: StatusStore,
) -> None:
    w = wf(batch_size=10, max_wait=3600, max_batch_bytes=1000)
    register(
        store,
        obj("small", size=10, mtime=T0),
        obj("huge", size=5000, mtime=T0 + 1),
        obj("tiny", size=10, mtime=T0 + 2),
        workflow=w,
    )

    first = claim(store, w, T0 + 3)
    second = claim(store, w, T0 + 3)

    assert keys_of(first) == {key("small")}  # the huge one does not fit next to it
    assert keys_of(second) == {key("huge")}  # alone, although over the cap
    assert rec(store, key("tiny")).status is TODO


def test_the_oldest_uploads_are_claimed_first(store: StatusStore) -> None:
    w = wf(batch_size=3, max_wait=3600)
    ages = {"m": 50, "x": 10, "b": 90, "q": 30, "a": 70, "z": 20}  # seconds before T0
    register(store, *(obj(n, mtime=T0 - age) for n, age in ages.items()), workflow=w)

    first = claim(store, w, T0)
    second = claim(store, w, T0)

    assert keys_of(first) == {key("b"), key("a"), key("m")}
    assert keys_of(second) == {key("q"), key("z"), key("x")}


def test_a_claim_takes_only_the_named_workflows_files(store: StatusStore) -> None:
    w = wf(batch_size=3, max_wait=3600)
    t = wf(name="trades", prefix="trades/", batch_size=3, max_wait=3600)
    register(store, obj("a", workflow=w), obj("b", workflow=w), workflow=w)
    register(store, obj("x", workflow=t), obj("y", workflow=t), workflow=t)
    assert store.claim(w, T0, OWNER) is None  # 2 + 2 waiting: neither workflow is ready
    assert store.claim(t, T0, OWNER) is None

    register(store, obj("z", workflow=t), workflow=t)
    batch = claim(store, t, T0)

    assert batch.workflow == "trades"
    assert keys_of(batch) == {key("x", t), key("y", t), key("z", t)}
    assert store.claim(w, T0, OWNER) is None
    assert {r.key for r in store.files(status=TODO)} == {key("a", w), key("b", w)}


def test_a_claimed_file_is_not_claimed_again(store: StatusStore) -> None:
    w = wf(batch_size=2, max_wait=60)
    register(store, obj("a"), obj("b"), workflow=w)
    first = claim(store, w, T0)

    assert store.claim(w, T0 + 3600, OWNER) is None
    assert store.claim(w, T0 + 3600, "host-b:202") is None

    register(store, obj("c"), obj("d"), workflow=w, now=T0 + 1)
    second = claim(store, w, T0 + 1)
    assert keys_of(second) == {key("c"), key("d")}
    assert keys_of(first).isdisjoint(keys_of(second))


def test_claiming_moves_the_files_to_processing_under_one_batch_and_lease(
    store: StatusStore,
) -> None:
    w = wf(batch_size=2, lease=300)
    register(store, obj("a"), obj("b"), workflow=w)

    batch = claim(store, w, T0 + 5, owner="host-a:101")

    assert batch.workflow == w.name
    assert batch.lease_until == T0 + 5 + 300
    for record in (*batch.files, rec(store, key("a")), rec(store, key("b"))):
        assert record.status is PROCESSING
        assert record.batch_id == batch.batch_id
        assert record.lease_until == T0 + 305
        assert record.start_time == T0 + 5
        assert record.attempts == 1
    assert store.active_batches() == [(batch.batch_id, "host-a:101", T0 + 305)]
    assert store.backlog(w.name, T0 + 5) == Backlog(0, 0, None)


def test_a_ready_backlog_is_claimed_even_when_batch_size_exceeds_max_batch_files(
    store: StatusStore,
) -> None:
    """batch_size=4 files wait, so the backlog is ready; the batch takes max_batch_files=2."""
    w = wf(batch_size=4, max_batch_files=2, max_wait=3600)
    register(store, *(obj(n, mtime=T0 + i) for i, n in enumerate("abcd")), workflow=w)
    assert readiness(w, store.backlog(w.name, T0 + 4), T0 + 4) == "count"

    batch = store.claim(w, T0 + 4, OWNER)

    assert batch is not None, "backlog() says ready (4 >= batch_size) but claim() did not claim"
    assert keys_of(batch) == {key("a"), key("b")}


# -- claim: concurrency -----------------------------------------------------------------------


def test_four_processes_claiming_from_one_ledger_never_get_the_same_file(
    ledger: Ledger,
) -> None:
    w = wf(batch_size=3, max_batch_files=3, max_wait=60)
    now = T0 + 3600  # everything is old enough: even the last, partial batch is ready
    store = ledger.open()
    count = ledger.race_files
    files = [obj(f"{i:03}", size=10, mtime=T0 + i * 0.001) for i in range(count)]
    register(store, *files, workflow=w)
    limits = ("name", "prefix", "batch_size", "max_batch_files", "max_batch_bytes", "max_wait")
    spec = json.dumps({name: getattr(w, name) for name in limits})

    owners = [f"worker-{n}:{1000 + n}" for n in range(4)]
    worker_args = [ledger.adapter, ledger.location, repr(now), spec]
    with ExitStack() as stack:  # on any exit: kill what still runs, then close pipes and wait
        procs = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, str(WORKER), *worker_args, o],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for o in owners
        ]
        stack.callback(lambda: [p.kill() for p in procs if p.poll() is None])
        for p in procs:  # every worker has its own open store before any of them claims
            assert p.stdout is not None and p.stderr is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", line + p.stderr.read()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outputs]

    per_worker = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    claimed = [k for batches in per_worker for _, keys in batches for k in keys]
    duplicates = [k for k, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert set(claimed) == {f.key for f in files}
    assert all(len(keys) <= 3 for batches in per_worker for _, keys in batches)
    assert sum(1 for batches in per_worker if batches) >= 2, "the workers did not race"

    # The ledger agrees with what each worker was told.
    owner_of = {b: o for o, batches in zip(owners, per_worker, strict=True) for b, _ in batches}
    for batches in per_worker:
        for batch_id, keys in batches:
            assert {rec(store, k).batch_id for k in keys} == {batch_id}
    assert store.counts()[PROCESSING] == count
    assert {(b, o) for b, o, _ in store.active_batches()} == set(owner_of.items())
    claims = [t for t in store.transitions_after(0, 10_000) if t.new_status is PROCESSING]
    assert len(claims) == count
    assert_counts_match_files(store)


def test_two_threads_sharing_one_store_never_claim_the_same_file(ledger: Ledger) -> None:
    store = ledger.open()
    w = wf(batch_size=2, max_batch_files=2, max_wait=60)
    count = min(200, ledger.race_files)
    files = [obj(f"{i:03}", mtime=T0 + i * 0.001) for i in range(count)]
    register(store, *files, workflow=w)
    start = threading.Barrier(2)

    def claim_until_empty(owner: str) -> list[str]:
        start.wait(timeout=10)
        keys: list[str] = []
        while (batch := store.claim(w, T0 + 3600, owner)) is not None:
            keys += [f.key for f in batch.files]
        return keys

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(claim_until_empty, ["thread-1:1", "thread-2:2"]))

    claimed = [k for keys in results for k in keys]
    assert [k for k, n in Counter(claimed).items() if n > 1] == []
    assert set(claimed) == {f.key for f in files}
    assert store.counts()[PROCESSING] == count


# -- leases -----------------------------------------------------------------------------------


def test_renewing_a_lease_extends_it(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=300)
    register(store, obj("a"), workflow=w)
    batch = claim(store, w, T0)

    assert store.renew(batch.batch_id, T0 + 900) is True

    assert rec(store, key("a")).lease_until == T0 + 900
    assert store.active_batches() == [(batch.batch_id, OWNER, T0 + 900)]
    assert store.reap([w], T0 + 600) == []  # past the original lease, within the renewed one
    assert rec(store, key("a")).status is PROCESSING
    assert moves(store.reap([w], T0 + 901)) == [(PROCESSING, TODO)]


def test_renewing_a_batch_that_no_longer_owns_files_returns_false(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=10)
    register(store, obj("a"), obj("b", mtime=T0 + 1), workflow=w)
    finished = claim(store, w, T0)
    store.finish(w, finished.batch_id, [ok(finished.files[0])], T0 + 1)
    reaped = claim(store, w, T0 + 1)
    store.reap([w], T0 + 20)

    assert store.renew(finished.batch_id, T0 + 500) is False
    assert store.renew(reaped.batch_id, T0 + 500) is False
    assert store.renew("no-such-batch", T0 + 500) is False
    assert rec(store, key("b")).lease_until is None


def test_reaping_after_the_lease_expired_returns_files_to_todo(store: StatusStore) -> None:
    w = wf(batch_size=2, lease=300, max_attempts=3)
    register(store, obj("a"), obj("b"), workflow=w)
    batch = claim(store, w, T0)

    reaped = store.reap([w], T0 + 301)

    assert sorted(moves(reaped)) == [(PROCESSING, TODO)] * 2
    assert {t.key for t in reaped} == keys_of(batch)
    assert all(t.at == T0 + 301 and t.reason for t in reaped)
    for k in keys_of(batch):
        record = rec(store, k)
        assert (record.status, record.batch_id, record.lease_until) == (TODO, None, None)
        assert record.attempts == 1  # the lost attempt counts
        assert moves(store.history(BUCKET, k))[-1] == (PROCESSING, TODO)
    assert store.active_batches() == []
    again = claim(store, w, T0 + 302)
    assert keys_of(again) == keys_of(batch)
    assert {f.attempts for f in again.files} == {2}


def test_reaping_before_the_lease_expires_changes_nothing(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=300)
    register(store, obj("a"), workflow=w)
    batch = claim(store, w, T0)

    assert store.reap([w], T0) == []
    assert store.reap([w], T0 + 299.9) == []

    record = rec(store, key("a"))
    assert (record.status, record.batch_id) == (PROCESSING, batch.batch_id)
    assert len(store.history(BUCKET, key("a"))) == 2
    assert [b for b, _, _ in store.active_batches()] == [batch.batch_id]


def test_an_expired_lease_on_the_last_attempt_fails_the_file_with_a_lease_error(
    store: StatusStore,
) -> None:
    w = wf(batch_size=1, lease=10, max_attempts=2)
    register(store, obj("a"), workflow=w)
    claim(store, w, T0)
    assert moves(store.reap([w], T0 + 11)) == [(PROCESSING, TODO)]
    claim(store, w, T0 + 11)

    reaped = store.reap([w], T0 + 22)

    assert moves(reaped) == [(PROCESSING, FAILED)]
    record = rec(store, key("a"))
    assert record.status is FAILED
    assert record.attempts == 2
    assert record.error is not None and "lease" in record.error.lower()
    assert store.claim(w, T0 + 10**6, OWNER) is None
    assert store.active_batches() == []


def test_reaping_a_dead_batch_recovers_it_before_its_lease_expires(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=300)
    register(store, obj("a"), obj("b", mtime=T0 + 1), workflow=w)
    dead = claim(store, w, T0, owner="host-a:101")
    alive = claim(store, w, T0, owner="host-a:102")

    reaped = store.reap([w], T0 + 5, dead_batches=[dead.batch_id])

    assert [(t.key, t.old_status, t.new_status) for t in reaped] == [(key("a"), PROCESSING, TODO)]
    assert rec(store, key("a")).status is TODO
    assert (rec(store, key("b")).status, rec(store, key("b")).batch_id) == (
        PROCESSING,
        alive.batch_id,
    )
    assert [b for b, _, _ in store.active_batches()] == [alive.batch_id]
    assert store.reap([w], T0 + 6, dead_batches=[dead.batch_id]) == []


def test_listing_a_dead_batch_twice_recovers_its_files_once(store: StatusStore) -> None:
    register(store, obj("a"), workflow=ONE)
    dead = claim(store, ONE)

    reaped = store.reap([ONE], T0 + 1, dead_batches=[dead.batch_id, dead.batch_id])

    assert moves(reaped) == [(PROCESSING, TODO)]
    assert len(store.history(BUCKET, key("a"))) == 3
    assert store.counts() == {TODO: 1, PROCESSING: 0, DONE: 0, FAILED: 0}


def test_finishing_a_batch_that_lost_its_lease_changes_nothing(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=10)
    register(store, obj("a"), workflow=w)
    lost = claim(store, w, T0, owner="host-a:101")
    store.reap([w], T0 + 11)
    winner = claim(store, w, T0 + 11, owner="host-b:202")
    history = store.history(BUCKET, key("a"))

    late = finish(store, w, lost.batch_id, [ok(lost.files[0])], T0 + 12)

    assert late == []
    record = rec(store, key("a"))
    assert (record.status, record.batch_id, record.output) == (PROCESSING, winner.batch_id, None)
    assert store.history(BUCKET, key("a")) == history
    assert [b for b, _, _ in store.active_batches()] == [winner.batch_id]
    assert moves(finish(store, w, winner.batch_id, [ok(winner.files[0])], T0 + 13)) == [
        (PROCESSING, DONE)
    ]


def test_finishing_after_the_file_was_reaped_changes_nothing(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=10)
    register(store, obj("a"), workflow=w)
    lost = claim(store, w, T0)
    store.reap([w], T0 + 11)

    assert store.finish(w, lost.batch_id, [broken(lost.files[0])], T0 + 12) == Finished(ignored=1)
    assert rec(store, key("a")).status is TODO
    assert len(store.history(BUCKET, key("a"))) == 3


# -- finish -----------------------------------------------------------------------------------


def test_a_successful_outcome_makes_the_file_done_with_output_and_end_time(
    store: StatusStore,
) -> None:
    register(store, obj("a"), workflow=ONE)
    batch = claim(store, ONE)

    finished = finish(store, ONE, batch.batch_id, [ok(batch.files[0])], T0 + 42)

    assert moves(finished) == [(PROCESSING, DONE)]
    assert finished[0].at == T0 + 42
    record = rec(store, key("a"))
    assert record.status is DONE
    assert record.output == f"out/{key('a')}.parquet"
    assert record.end_time == T0 + 42
    assert record.error is None
    assert record.lease_until is None
    assert store.active_batches() == []


def test_a_terminal_failure_makes_the_file_failed_with_its_error(store: StatusStore) -> None:
    w = wf(batch_size=1, max_attempts=3)
    register(store, obj("a"), workflow=w)
    batch = claim(store, w)

    finished = finish(store, w, batch.batch_id, [broken(batch.files[0], "row 7: 'x'")], T0 + 3)

    assert moves(finished) == [(PROCESSING, FAILED)]
    record = rec(store, key("a"))
    assert (record.status, record.error, record.end_time) == (FAILED, "row 7: 'x'", T0 + 3)
    assert record.attempts == 1  # attempts were left, but the failure is terminal
    assert store.claim(w, T0 + 10**6, OWNER) is None


def test_a_retryable_failure_returns_the_file_to_todo_claimable_after_the_backoff(
    store: StatusStore,
) -> None:
    w = wf(batch_size=1, max_attempts=3, retry_backoff=5)
    register(store, obj("a"), workflow=w)
    batch = claim(store, w, T0)

    finished = finish(store, w, batch.batch_id, [flaky(batch.files[0])], T0 + 10)

    assert moves(finished) == [(PROCESSING, TODO)]
    record = rec(store, key("a"))
    assert (record.status, record.attempts, record.batch_id) == (TODO, 1, None)
    assert store.claim(w, T0 + 14.9, OWNER) is None
    again = claim(store, w, T0 + 15)
    assert keys_of(again) == {key("a")}
    assert again.files[0].attempts == 2


def test_the_retry_backoff_doubles_with_each_attempt(store: StatusStore) -> None:
    w = wf(batch_size=1, max_attempts=5, retry_backoff=5)
    register(store, obj("a"), workflow=w)
    first = claim(store, w, T0)
    store.finish(w, first.batch_id, [flaky(first.files[0])], T0 + 10)
    second = claim(store, w, T0 + 15)  # first backoff: 5 s

    store.finish(w, second.batch_id, [flaky(second.files[0])], T0 + 20)

    assert store.claim(w, T0 + 29.9, OWNER) is None  # second backoff: 10 s
    assert keys_of(claim(store, w, T0 + 30)) == {key("a")}


def test_a_retryable_failure_on_the_last_attempt_fails_the_file(store: StatusStore) -> None:
    w = wf(batch_size=1, max_attempts=2, retry_backoff=5)
    register(store, obj("a"), workflow=w)
    first = claim(store, w, T0)
    assert moves(finish(store, w, first.batch_id, [flaky(first.files[0])], T0 + 1)) == [
        (PROCESSING, TODO)
    ]
    second = claim(store, w, T0 + 100)

    finished = finish(store, w, second.batch_id, [flaky(second.files[0], "disk gone")], T0 + 101)

    assert moves(finished) == [(PROCESSING, FAILED)]
    record = rec(store, key("a"))
    assert (record.status, record.attempts, record.error) == (FAILED, 2, "disk gone")
    assert store.claim(w, T0 + 10**6, OWNER) is None


def test_attempts_are_counted_per_claim(store: StatusStore) -> None:
    w = wf(batch_size=1, max_attempts=10, lease=10, retry_backoff=1)
    register(store, obj("a"), workflow=w)

    first = claim(store, w, T0)
    store.reap([w], T0 + 11)  # lease lost
    second = claim(store, w, T0 + 11)
    store.finish(w, second.batch_id, [flaky(second.files[0])], T0 + 12)  # transient failure
    third = claim(store, w, T0 + 20)

    assert [b.files[0].attempts for b in (first, second, third)] == [1, 2, 3]
    assert rec(store, key("a")).attempts == 3


def test_each_files_outcome_is_recorded_on_its_own(store: StatusStore) -> None:
    w = wf(batch_size=2)
    register(store, obj("a"), obj("b", mtime=T0 + 1), workflow=w)
    batch = claim(store, w, T0 + 1)
    a, b = sorted(batch.files, key=lambda f: f.key)

    first = finish(store, w, batch.batch_id, [ok(a)], T0 + 2)

    assert [(t.key, t.new_status) for t in first] == [(a.key, DONE)]
    assert rec(store, b.key).status is PROCESSING
    assert [x for x, _, _ in store.active_batches()] == [batch.batch_id]
    assert store.renew(batch.batch_id, T0 + 1000) is True

    second = finish(store, w, batch.batch_id, [broken(b)], T0 + 3)

    assert [(t.key, t.new_status) for t in second] == [(b.key, FAILED)]
    assert store.active_batches() == []
    assert store.finish(w, batch.batch_id, [ok(a), ok(b)], T0 + 4) == Finished(
        ignored=2
    )  # recorded
    assert (rec(store, a.key).status, rec(store, b.key).status) == (DONE, FAILED)


def test_an_outcome_reported_twice_is_recorded_once(store: StatusStore) -> None:
    register(store, obj("a"), workflow=ONE)
    batch = claim(store, ONE)
    (a,) = batch.files

    finished = finish(store, ONE, batch.batch_id, [ok(a), ok(a)], T0 + 1)

    assert moves(finished) == [(PROCESSING, DONE)]
    assert moves(store.history(BUCKET, a.key)) == [
        (None, TODO),
        (TODO, PROCESSING),
        (PROCESSING, DONE),
    ]
    assert store.counts() == {TODO: 0, PROCESSING: 0, DONE: 1, FAILED: 0}


# -- release_batch ----------------------------------------------------------------------------


def test_releasing_a_batch_returns_its_files_to_todo_without_counting_the_attempt(
    store: StatusStore,
) -> None:
    w = wf(batch_size=2)
    register(store, obj("a"), obj("b"), workflow=w)
    batch = claim(store, w, T0)

    released = store.release_batch(batch.batch_id, T0 + 5, "shutting down")

    assert sorted(moves(released)) == [(PROCESSING, TODO)] * 2
    assert {t.reason for t in released} == {"shutting down"}
    for k in keys_of(batch):
        record = rec(store, k)
        assert (record.status, record.attempts, record.batch_id) == (TODO, 0, None)
    assert store.active_batches() == []
    assert store.renew(batch.batch_id, T0 + 1000) is False
    again = claim(store, w, T0 + 5)  # at once: no backoff
    assert {f.attempts for f in again.files} == {1}


# -- retry ------------------------------------------------------------------------------------


def _three_failed(store: StatusStore) -> list[str]:
    w = wf(batch_size=3)
    register(store, obj("a"), obj("b"), obj("c"), workflow=w)
    batch = claim(store, w, T0)
    store.finish(w, batch.batch_id, [broken(f) for f in batch.files], T0 + 1)
    return sorted(keys_of(batch))


def test_retrying_given_keys_puts_those_failed_files_back_to_todo_with_attempts_reset(
    store: StatusStore,
) -> None:
    a, b, c = _three_failed(store)

    retried = store.retry(BUCKET, [a, c], T0 + 2)

    assert sorted((t.key, t.old_status, t.new_status) for t in retried) == [
        (a, FAILED, TODO),
        (c, FAILED, TODO),
    ]
    assert all(t.at == T0 + 2 for t in retried)
    assert (rec(store, a).status, rec(store, a).attempts) == (TODO, 0)
    assert (rec(store, c).status, rec(store, c).attempts) == (TODO, 0)
    assert rec(store, b).status is FAILED
    assert keys_of(claim(store, wf(batch_size=2), T0 + 2)) == {a, c}


def test_retrying_all_puts_every_failed_file_back_to_todo(store: StatusStore) -> None:
    failed = _three_failed(store)

    retried = store.retry(BUCKET, None, T0 + 2)

    assert sorted(t.key for t in retried) == failed
    assert store.counts() == {TODO: 3, PROCESSING: 0, DONE: 0, FAILED: 0}
    assert {r.attempts for r in store.files()} == {0}


def test_retrying_all_leaves_other_buckets_alone(store: StatusStore) -> None:
    register(store, obj("a"), workflow=ONE, bucket="other")
    batch = claim(store, ONE)
    store.finish(ONE, batch.batch_id, [broken(batch.files[0])], T0 + 1)

    assert store.retry(BUCKET, None, T0 + 2) == []
    assert rec(store, key("a"), "other").status is FAILED


def test_retrying_the_same_key_twice_in_one_call_retries_it_once(store: StatusStore) -> None:
    a, _, _ = _three_failed(store)

    retried = store.retry(BUCKET, [a, a], T0 + 2)

    assert [(t.key, t.old_status, t.new_status) for t in retried] == [(a, FAILED, TODO)]
    assert moves(store.history(BUCKET, a))[-2:] == [(PROCESSING, FAILED), (FAILED, TODO)]
    assert store.counts() == {TODO: 1, PROCESSING: 0, DONE: 0, FAILED: 2}


def test_retrying_files_that_are_not_failed_changes_nothing(store: StatusStore) -> None:
    k = one_of_each_status(store)
    before = {s: rec(store, k[s]) for s in Status}
    stream = store.transitions_after(0)

    retried = store.retry(BUCKET, [k[TODO], k[PROCESSING], k[DONE], key("unknown")], T0 + 20)

    assert retried == []
    assert {s: rec(store, k[s]) for s in Status} == before
    assert store.transitions_after(0) == stream


# -- transitions ------------------------------------------------------------------------------


def test_a_full_lifecycle_is_exactly_todo_processing_done(store: StatusStore) -> None:
    register(store, obj("a"), workflow=ONE)
    batch = claim(store, ONE, T0 + 1)
    store.finish(ONE, batch.batch_id, [ok(batch.files[0])], T0 + 2)

    history = store.history(BUCKET, key("a"))

    assert moves(history) == [(None, TODO), (TODO, PROCESSING), (PROCESSING, DONE)]
    assert [t.at for t in history] == [T0, T0 + 1, T0 + 2]
    assert store.transitions_after(0) == history


def test_every_status_change_writes_exactly_one_transition(store: StatusStore) -> None:
    w = wf(batch_size=2, lease=10, max_attempts=3, retry_backoff=1)
    returned = []
    returned += register(store, obj("a"), obj("b"), obj("c", mtime=T0 + 1), workflow=w)
    first = claim(store, w, T0 + 1)  # a, b
    a, b = sorted(first.files, key=lambda f: f.key)
    returned += finish(store, w, first.batch_id, [ok(a), flaky(b)], T0 + 2)
    returned += store.reap([w], T0 + 3)  # nothing expired
    second = claim(store, w, T0 + 4)  # b, c
    returned += store.release_batch(second.batch_id, T0 + 5, "stopping")
    third = claim(store, w, T0 + 6)
    returned += store.reap([w], T0 + 17)  # lease expired
    fourth = claim(store, w, T0 + 18)
    returned += finish(store, w, fourth.batch_id, [broken(f) for f in fourth.files], T0 + 19)
    returned += store.retry(BUCKET, None, T0 + 20)
    returned += register(store, obj("a", etag="v2"), workflow=w, now=T0 + 21)

    claims = [first, second, third, fourth]
    stream = store.transitions_after(0)

    # Every transition a method returned is in the change stream, and nothing else is.
    claim_ids = {t.id for t in stream if t.new_status is PROCESSING}
    assert len(claim_ids) == sum(len(c.files) for c in claims)
    assert [t for t in stream if t.id not in claim_ids] == returned
    # Each file's transitions chain without gaps and end in its current status.
    for k in (key("a"), key("b"), key("c")):
        history = store.history(BUCKET, k)
        assert history[0].old_status is None
        for before, after in pairwise(history):
            assert after.old_status is before.new_status
            assert after.old == before.new
        assert history[-1].new_status is rec(store, k).status
        assert history[-1].new["status"] == rec(store, k).status.value
    assert len({t.id for t in stream}) == len(stream)
    assert_counts_match_files(store)


def test_a_transition_records_from_to_at_reason_and_both_images(store: StatusStore) -> None:
    registered = register(store, obj("a", size=321), workflow=ONE, now=T0 + 1)
    batch = claim(store, ONE, T0 + 2)
    claimed = store.history(BUCKET, key("a"))[-1]

    (t,) = registered
    assert (t.bucket, t.key, t.workflow) == (BUCKET, key("a"), ONE.name)
    assert (t.old_status, t.new_status, t.at) == (None, TODO, T0 + 1)
    assert isinstance(t.reason, str) and t.reason
    assert t.old is None
    assert t.new["status"] == "TODO"
    assert (t.new["key"], t.new["etag"], t.new["size"]) == (key("a"), "v1", 321)

    assert (claimed.old_status, claimed.new_status, claimed.at) == (TODO, PROCESSING, T0 + 2)
    assert isinstance(claimed.reason, str) and claimed.reason
    assert claimed.old is not None
    assert claimed.old["status"] == "TODO"
    assert claimed.old["batch_id"] is None
    assert claimed.new["status"] == "PROCESSING"
    assert claimed.new["batch_id"] == batch.batch_id
    assert claimed.new["attempts"] == 1
    assert claimed.id > t.id


def test_history_lists_one_files_transitions_oldest_first(store: StatusStore) -> None:
    w = wf(batch_size=2)
    register(store, obj("a"), obj("b"), workflow=w)
    # Newer, so that the batch of two is BUCKET's: ties in upload time have no defined order.
    register(store, obj("a", mtime=T0 + 0.5), workflow=w, bucket="other")
    batch = claim(store, w, T0 + 1)
    store.finish(w, batch.batch_id, [ok(f) for f in batch.files], T0 + 2)

    history = store.history(BUCKET, key("a"))

    assert {(t.bucket, t.key) for t in history} == {(BUCKET, key("a"))}
    assert moves(history) == [(None, TODO), (TODO, PROCESSING), (PROCESSING, DONE)]
    assert [t.id for t in history] == sorted(t.id for t in history)
    assert moves(store.history("other", key("a"))) == [(None, TODO)]
    assert store.history(BUCKET, key("unknown")) == []


def test_transitions_after_pages_through_the_change_stream_in_id_order(
    store: StatusStore,
) -> None:
    w = wf(batch_size=4)
    register(store, *(obj(n) for n in "abcd"), workflow=w)
    batch = claim(store, w, T0 + 1)
    store.finish(w, batch.batch_id, [ok(f) for f in batch.files], T0 + 2)
    everything = store.transitions_after(0)
    assert len(everything) == 12

    pages, checkpoint = [], 0
    for _ in range(10):  # bounded: a stream that never advances must fail, not hang
        page = store.transitions_after(checkpoint, limit=5)
        if not page:
            break
        assert len(page) <= 5
        assert page[0].id > checkpoint
        pages.append(page)
        checkpoint = page[-1].id

    assert [len(p) for p in pages] == [5, 5, 2]
    paged = [t for p in pages for t in p]
    assert paged == everything
    ids = [t.id for t in paged]
    assert all(x < y for x, y in pairwise(ids))
    assert store.transitions_after(ids[-1]) == []
    assert store.transitions_after(ids[5], limit=2) == everything[6:8]


# -- queries ----------------------------------------------------------------------------------


def test_counts_include_every_status_even_when_zero(store: StatusStore) -> None:
    assert store.counts() == {TODO: 0, PROCESSING: 0, DONE: 0, FAILED: 0}

    register(store, obj("a"))
    assert store.counts() == {TODO: 1, PROCESSING: 0, DONE: 0, FAILED: 0}


def test_counts_count_files_per_status(store: StatusStore) -> None:
    one_of_each_status(store)
    register(store, obj("more", mtime=T0 + 20), workflow=ONE, now=T0 + 20)

    assert store.counts() == {TODO: 2, PROCESSING: 1, DONE: 1, FAILED: 1}
    assert_counts_match_files(store)


def test_counts_of_one_workflow_count_only_its_files(store: StatusStore) -> None:
    one_of_each_status(store)
    register(store, ObjectInfo("trades/x.csv", 1, "e", T0), workflow=TRADES)

    everything = store.counts()
    mine = store.counts(ONE.name)
    theirs = store.counts(TRADES.name)
    assert theirs == {TODO: 1, PROCESSING: 0, DONE: 0, FAILED: 0}
    assert {s: mine[s] + theirs[s] for s in everything} == everything
    assert store.counts("no-such-workflow") == {TODO: 0, PROCESSING: 0, DONE: 0, FAILED: 0}


def test_files_filters_by_status_prefix_workflow_and_limit(store: StatusStore) -> None:
    t = TRADES
    register(
        store,
        ObjectInfo("ohlcv/2024/b.csv", 1, "e", T0 + 2),
        ObjectInfo("ohlcv/2024/a.csv", 1, "e", T0 + 1),
        ObjectInfo("ohlcv/2025/c.csv", 1, "e", T0 + 3),
        ObjectInfo("ohlcv/20_4/d.csv", 1, "e", T0 + 4),
    )
    register(store, ObjectInfo("trades/x.csv", 1, "e", T0), workflow=t)
    batch = claim(store, wf(name="trades", prefix="trades/", batch_size=1), T0)
    store.finish(t, batch.batch_id, [ok(batch.files[0])], T0 + 1)

    def listed(**filters: Any) -> list[str]:
        return [r.key for r in store.files(**filters)]

    everything = [
        "trades/x.csv",
        "ohlcv/2024/a.csv",
        "ohlcv/2024/b.csv",
        "ohlcv/2025/c.csv",
        "ohlcv/20_4/d.csv",
    ]
    assert listed() == everything  # oldest upload first
    assert listed(status=DONE) == ["trades/x.csv"]
    assert listed(status=TODO) == everything[1:]
    assert listed(status=FAILED) == []
    assert listed(prefix="ohlcv/2024/") == ["ohlcv/2024/a.csv", "ohlcv/2024/b.csv"]
    assert listed(prefix="ohlcv/20_4/") == ["ohlcv/20_4/d.csv"]  # '_' is not a wildcard
    assert listed(workflow="ohlcv") == everything[1:]
    assert listed(workflow="trades") == ["trades/x.csv"]
    assert listed(workflow="nope") == []
    assert listed(limit=2) == everything[:2]
    assert listed(status=TODO, prefix="ohlcv/2024/", workflow="ohlcv", limit=1) == [
        "ohlcv/2024/a.csv"
    ]


def test_backlog_counts_every_todo_file_of_the_workflow_including_retries_in_backoff(
    store: StatusStore,
) -> None:
    w = wf(batch_size=1, retry_backoff=5)
    register(store, obj("processing", mtime=T0 - 20), obj("backoff", mtime=T0 - 10), workflow=w)
    claim(store, w, T0)  # processing
    backoff = claim(store, w, T0)
    store.finish(w, backoff.batch_id, [flaky(backoff.files[0])], T0)  # claimable at T0 + 5
    register(store, obj("a", size=200, mtime=T0), obj("b", size=300, mtime=T0 + 1), workflow=w)
    register(store, obj("x", size=999, workflow=TRADES), workflow=TRADES)

    assert store.backlog(w.name, T0 + 1) == Backlog(3, 600, T0 - 10)
    assert store.backlog(TRADES.name, T0 + 1) == Backlog(1, 999, T0)
    assert store.backlog("nope", T0) == Backlog(0, 0, None)

    assert keys_of(claim(store, w, T0 + 5)) == {key("backoff")}
    assert store.backlog(w.name, T0 + 5) == Backlog(2, 500, T0)


def test_stale_returns_todo_files_older_than_stale_after_oldest_first(store: StatusStore) -> None:
    w = wf(batch_size=1, stale_after=3600)
    patient = wf(name="patient", prefix="patient/", stale_after=10_000)
    register(store, obj("done", mtime=T0 - 9000), workflow=w)
    batch = claim(store, w, T0)
    store.finish(w, batch.batch_id, [ok(batch.files[0])], T0)
    register(
        store,
        obj("mid", mtime=T0 - 4000),
        obj("old", mtime=T0 - 7200),
        obj("fresh", mtime=T0 - 100),
        workflow=w,
    )
    register(store, obj("slow", mtime=T0 - 7200, workflow=patient), workflow=patient)

    stale = store.stale([w, patient], T0)

    assert [r.key for r in stale] == [key("old"), key("mid")]
    assert {r.status for r in stale} == {TODO}
    assert [r.key for r in store.stale([w, patient], T0 + 10_000)] == [
        key("old"),
        key("slow", patient),
        key("mid"),
        key("fresh"),
    ]
    assert store.stale([], T0 + 10**6) == []


def test_stale_returns_at_most_limit_files_oldest_first(store: StatusStore) -> None:
    w = wf(batch_size=100, stale_after=3600)
    patient = wf(name="patient", prefix="patient/", stale_after=3600)
    register(store, *(obj(f"f{i}", mtime=T0 - 9000 + i * 10) for i in range(5)), workflow=w)
    register(store, obj("p", mtime=T0 - 8995, workflow=patient), workflow=patient)

    stale = store.stale([w, patient], T0, limit=3)

    assert [r.key for r in stale] == [key("f0"), key("p", patient), key("f1")]


def test_set_unrouted_replaces_the_list(store: StatusStore) -> None:
    x = UnroutedFile("misc/x.txt", 10, T0, "no workflow prefix matches")
    y = UnroutedFile("ohlcv/y.json", 20, T0 + 1, "matches no include pattern of workflow ohlcv")
    z = UnroutedFile("z.bin", 30, T0 + 2, "no workflow prefix matches")
    assert store.unrouted() == []

    store.set_unrouted([y, x])
    assert sorted(store.unrouted(), key=lambda u: u.key) == [x, y]

    store.set_unrouted([z])
    assert store.unrouted() == [z]

    store.set_unrouted([])
    assert store.unrouted() == []


def test_active_batches_lists_running_batches_with_their_owner(store: StatusStore) -> None:
    w = wf(batch_size=1, lease=300)
    register(store, obj("a"), obj("b", mtime=T0 + 1), obj("c", mtime=T0 + 2), workflow=w)
    a = claim(store, w, T0, owner="host-a:1")
    b = claim(store, w, T0 + 1, owner="host-b:2")
    c = claim(store, w, T0 + 2, owner="host-c:3")

    assert sorted(store.active_batches()) == sorted(
        [
            (a.batch_id, "host-a:1", T0 + 300),
            (b.batch_id, "host-b:2", T0 + 301),
            (c.batch_id, "host-c:3", T0 + 302),
        ]
    )

    store.finish(w, a.batch_id, [ok(a.files[0])], T0 + 3)
    store.release_batch(b.batch_id, T0 + 3, "stopping")
    assert store.active_batches() == [(c.batch_id, "host-c:3", T0 + 302)]

    store.reap([w], T0 + 303)
    assert store.active_batches() == []


def test_syncing_workflows_is_idempotent(store: StatusStore) -> None:
    register(store, obj("a"), workflow=ONE)
    before = (store.files(), store.transitions_after(0))

    store.sync_workflows([WF, TRADES])
    store.sync_workflows([WF, TRADES])
    store.sync_workflows([wf(batch_size=50), TRADES])

    assert (store.files(), store.transitions_after(0)) == before
    assert keys_of(claim(store, ONE, T0)) == {key("a")}


def test_a_store_reopened_on_the_same_ledger_sees_everything(ledger: Ledger) -> None:
    first = ledger.open()
    register(first, obj("a"), workflow=ONE)
    batch = claim(first, ONE, T0)
    first.set_unrouted([UnroutedFile("misc/x.txt", 1, T0, "no workflow prefix matches")])
    second = ledger.open()  # a second store on the same ledger, open at the same time
    assert rec(second, key("a")).batch_id == batch.batch_id

    ledger.close(first)
    reopened = ledger.open()

    assert rec(reopened, key("a")).status is PROCESSING
    assert moves(reopened.history(BUCKET, key("a"))) == [(None, TODO), (TODO, PROCESSING)]
    assert reopened.active_batches() == [(batch.batch_id, OWNER, batch.lease_until)]
    assert [u.key for u in reopened.unrouted()] == ["misc/x.txt"]
    assert moves(finish(reopened, ONE, batch.batch_id, [ok(batch.files[0])], T0 + 1)) == [
        (PROCESSING, DONE)
    ]
    assert rec(second, key("a")).status is DONE
