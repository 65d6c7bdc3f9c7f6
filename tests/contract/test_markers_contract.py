"""Completeness markers (Workflow.ready_marker) in the StatusStore contract: storing the markers
discovery sees, and claiming a marked folder's files. Adapter independent, like
test_status_store_contract.py; time is always an argument."""

from __future__ import annotations

from typing import Any

from ledger_backends import Ledger

from ingestflow.domain.batching import Backlog
from ingestflow.domain.records import Batch, FileOutcome, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

T0 = 1_700_000_000.0
BUCKET = "landing"
OWNER = "host-a:1"


def marked(**overrides: Any) -> Workflow:
    """A workflow that waits for `_SUCCESS`; count and bytes alone would make a batch."""
    settings: dict[str, Any] = {
        "name": "ohlcv",
        "prefix": "ohlcv/",
        "batch_size": 2,
        "max_wait": 600.0,
        "max_batch_files": 100,
        "max_batch_bytes": 1_000,
        "ready_marker": "_SUCCESS",
    }
    settings.update(overrides)
    return Workflow(**settings)


W = marked()


def put(
    store: StatusStore,
    *keys: str,
    mtime: float = T0,
    size: int = 10,
    workflow: Workflow = W,
    bucket: str = BUCKET,
) -> None:
    files = [(ObjectInfo(k, size, "v1", mtime + i), workflow.name) for i, k in enumerate(keys)]
    store.register(bucket, files, mtime)


def claimed(batch: Batch | None) -> list[str]:
    assert batch is not None, "expected a ready batch"
    return [f.key for f in batch.files]


# -- storing markers ----------------------------------------------------------------------------


def test_set_markers_replaces_the_markers_of_a_bucket(store: StatusStore) -> None:
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/2024/01/"), ("ohlcv", "ohlcv/2024/02/")])
    store.set_markers("other", [("ohlcv", "ohlcv/x/")])

    store.set_markers(BUCKET, [("ohlcv", "ohlcv/2024/02/"), ("trades", "trades/d1/")])

    assert store.markers(BUCKET) == [("ohlcv", "ohlcv/2024/02/"), ("trades", "trades/d1/")]
    assert store.markers("other") == [("ohlcv", "ohlcv/x/")]
    store.set_markers(BUCKET, [])
    assert store.markers(BUCKET) == []


def test_add_markers_adds_to_the_set_until_the_next_set_markers(store: StatusStore) -> None:
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/a/")])

    store.add_markers(BUCKET, [("ohlcv", "ohlcv/b/"), ("ohlcv", "ohlcv/a/")])
    store.add_markers(BUCKET, [("ohlcv", "ohlcv/b/")])
    store.add_markers(BUCKET, [])

    assert store.markers(BUCKET) == [("ohlcv", "ohlcv/a/"), ("ohlcv", "ohlcv/b/")]
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/c/")])
    assert store.markers(BUCKET) == [("ohlcv", "ohlcv/c/")]


def test_markers_survive_reopening_the_ledger(ledger: Ledger) -> None:
    first = ledger.open()
    first.set_markers(BUCKET, [("ohlcv", "ohlcv/a/")])
    ledger.close(first)

    assert ledger.open().markers(BUCKET) == [("ohlcv", "ohlcv/a/")]


# -- claiming -----------------------------------------------------------------------------------


def test_files_of_a_marker_workflow_wait_for_their_marker_despite_count_and_bytes(
    store: StatusStore,
) -> None:
    put(store, "ohlcv/d1/a.csv", "ohlcv/d1/b.csv", "ohlcv/d1/c.csv", size=600)

    assert store.claim(W, T0 + 10, OWNER) is None  # 3 >= batch_size, 1800 >= max_batch_bytes
    assert store.counts()[Status.TODO] == 3


def test_a_marked_folder_forms_a_batch_at_once_whatever_its_size(store: StatusStore) -> None:
    w = marked(batch_size=50)
    put(store, "ohlcv/d1/a.csv", workflow=w)
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])

    assert claimed(store.claim(w, T0 + 1, OWNER)) == ["ohlcv/d1/a.csv"]


def test_a_marked_folders_batch_holds_only_that_folders_files_oldest_first(
    store: StatusStore,
) -> None:
    put(store, "ohlcv/d2/x.csv", mtime=T0 - 100)  # older, but its folder is not complete
    put(store, "ohlcv/d1/b.csv", "ohlcv/d1/a.csv", mtime=T0)
    put(store, "ohlcv/d1/sub/c.csv", mtime=T0 - 50)  # a subfolder is another folder
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])

    assert claimed(store.claim(W, T0 + 1, OWNER)) == ["ohlcv/d1/b.csv", "ohlcv/d1/a.csv"]
    assert store.claim(W, T0 + 2, OWNER) is None


def test_the_marked_folder_holding_the_oldest_ready_file_goes_first(store: StatusStore) -> None:
    put(store, "ohlcv/d2/a.csv", mtime=T0 + 10)
    put(store, "ohlcv/d1/a.csv", mtime=T0 + 20)
    put(store, "ohlcv/d3/a.csv", mtime=T0)  # oldest, but not marked
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/"), ("ohlcv", "ohlcv/d2/")])

    assert claimed(store.claim(W, T0 + 30, OWNER)) == ["ohlcv/d2/a.csv"]
    assert claimed(store.claim(W, T0 + 30, OWNER)) == ["ohlcv/d1/a.csv"]
    assert store.claim(W, T0 + 30, OWNER) is None


def test_a_marked_folders_batches_stay_within_the_caps(store: StatusStore) -> None:
    w = marked(max_batch_files=2, max_batch_bytes=250)
    put(store, *(f"ohlcv/d1/{n}.csv" for n in "abcde"), size=100, workflow=w)
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])

    sizes = []
    while (batch := store.claim(w, T0 + 1, OWNER)) is not None:
        sizes.append(len(batch.files))
    assert sizes == [2, 2, 1]


def test_a_marker_in_another_bucket_or_of_another_workflow_does_not_count(
    store: StatusStore,
) -> None:
    put(store, "ohlcv/d1/a.csv")
    store.set_markers("other", [("ohlcv", "ohlcv/d1/")])
    store.set_markers(BUCKET, [("trades", "ohlcv/d1/"), ("ohlcv", "ohlcv/d1/sub/")])

    assert store.claim(W, T0 + 1, OWNER) is None
    store.add_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])
    assert claimed(store.claim(W, T0 + 1, OWNER)) == ["ohlcv/d1/a.csv"]


def test_an_unmarked_folder_is_flushed_by_max_wait_oldest_first_unless_required(
    ledger: Ledger,
) -> None:
    store = ledger.open()
    put(store, "ohlcv/d1/a.csv", mtime=T0)
    put(store, "ohlcv/d2/b.csv", mtime=T0 + 5)

    assert store.claim(W, T0 + 599, OWNER) is None
    required = marked(marker_required=True)
    assert store.claim(required, T0 + 10**6, OWNER) is None

    assert claimed(store.claim(W, T0 + 600, OWNER)) == ["ohlcv/d1/a.csv", "ohlcv/d2/b.csv"]


def test_a_required_marker_still_releases_its_folder_when_it_arrives(store: StatusStore) -> None:
    w = marked(marker_required=True)
    put(store, "ohlcv/d1/a.csv", workflow=w)
    assert store.claim(w, T0 + 10**6, OWNER) is None

    store.add_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])

    assert claimed(store.claim(w, T0 + 10**6, OWNER)) == ["ohlcv/d1/a.csv"]


def test_a_marked_folders_retry_waits_for_its_backoff(store: StatusStore) -> None:
    w = marked(retry_backoff=30.0)
    put(store, "ohlcv/d1/a.csv", workflow=w)
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])
    batch = store.claim(w, T0, OWNER)
    assert batch is not None
    (record,) = batch.files
    failure = FileOutcome.failed(record.key, record.etag, "I/O error", retryable=True)
    store.finish(w, batch.batch_id, [failure], T0 + 1)

    assert store.claim(w, T0 + 30, OWNER) is None
    assert claimed(store.claim(w, T0 + 31, OWNER)) == ["ohlcv/d1/a.csv"]


def test_markers_change_nothing_for_a_workflow_without_ready_marker(store: StatusStore) -> None:
    plain = marked(ready_marker=None, batch_size=3)
    put(store, "ohlcv/d1/a.csv", workflow=plain)
    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/")])

    assert store.claim(plain, T0 + 1, OWNER) is None  # 1 < batch_size, younger than max_wait
    put(store, "ohlcv/d1/b.csv", "ohlcv/d2/c.csv", workflow=plain, mtime=T0 + 2)
    assert len(claimed(store.claim(plain, T0 + 3, OWNER))) == 3


def test_marked_backlog_counts_the_todo_files_in_marked_folders(store: StatusStore) -> None:
    put(store, "ohlcv/d1/a.csv", "ohlcv/d1/b.csv", size=10, mtime=T0)
    put(store, "ohlcv/d2/c.csv", size=99, mtime=T0 - 5)
    put(store, "ohlcv/d1/a.csv", size=10, bucket="other")
    assert store.marked_backlog("ohlcv", T0) == Backlog(0, 0, None)

    store.set_markers(BUCKET, [("ohlcv", "ohlcv/d1/"), ("ohlcv", "ohlcv/empty/")])

    assert store.marked_backlog("ohlcv", T0) == Backlog(2, 20, T0)
    assert store.marked_backlog("trades", T0) == Backlog(0, 0, None)
    assert store.backlog("ohlcv", T0).count == 4  # every bucket, every folder
    store.claim(W, T0 + 1, OWNER)
    assert store.marked_backlog("ohlcv", T0 + 1) == Backlog(0, 0, None)
