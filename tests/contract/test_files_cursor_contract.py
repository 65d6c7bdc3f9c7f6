"""`files(..., after=(upload_time, key))`: a keyset cursor over the ledger in the StatusStore
contract. Paging with `limit` and `after` must return every matching record exactly once, in
(upload_time, key) order, whatever the status mix; adapter independent."""

from __future__ import annotations

from typing import Any

from ingestflow.domain.records import FileOutcome, FileRecord, ObjectInfo
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

T0 = 1_700_000_000.0
BUCKET = "landing"
OHLCV = Workflow("ohlcv", "ohlcv/", batch_size=1, max_batch_files=1, max_wait=0.0)
TRADES = Workflow("trades", "trades/", batch_size=1, max_batch_files=1, max_wait=0.0)


def mixed_ledger(store: StatusStore) -> list[FileRecord]:
    """24 files of two workflows, in every status, with ties on upload_time (two files per
    second), registered out of order; returns the ledger's records."""
    files = []
    for i in range(24):
        workflow = OHLCV if i % 3 else TRADES
        name = f"{workflow.prefix}{'ab'[i % 2]}/{23 - i:02d}.csv"
        files.append((ObjectInfo(name, 10, "v1", T0 + i // 2), workflow.name))
    store.register(BUCKET, files[::-1], T0)
    for n, workflow in enumerate([OHLCV, TRADES, OHLCV, OHLCV, TRADES, OHLCV]):
        batch = store.claim(workflow, T0 + 100 + n, "host:1")
        assert batch is not None
        (record,) = batch.files
        if n % 3 == 0:
            outcome = FileOutcome.done(record.key, record.etag, "out", 1)
        elif n % 3 == 1:
            outcome = FileOutcome.failed(record.key, record.etag, "bad", retryable=False)
        else:
            continue  # stays PROCESSING
        store.finish(workflow, batch.batch_id, [outcome], T0 + 200)
    records = store.files()
    assert {r.status for r in records} == set(Status)
    return records


def pages(store: StatusStore, size: int, **filters: Any) -> list[list[str]]:
    """Every page of `size` records, following the cursor until an empty page."""
    out: list[list[str]] = []
    after = None
    for _ in range(100):  # bounded: a cursor that does not advance must fail, not hang
        page = store.files(limit=size, after=after, **filters)
        if not page:
            return out
        assert len(page) <= size
        out.append([r.key for r in page])
        after = (page[-1].upload_time, page[-1].key)
    raise AssertionError("the cursor never reached the end")


def ordered(records: list[FileRecord]) -> list[str]:
    return [r.key for r in sorted(records, key=lambda r: (r.upload_time, r.key))]


def test_files_are_ordered_by_upload_time_then_key(store: StatusStore) -> None:
    records = mixed_ledger(store)

    assert [r.key for r in records] == ordered(records)


def test_paging_with_a_cursor_returns_every_file_once_in_order(store: StatusStore) -> None:
    records = mixed_ledger(store)

    for size in (1, 5, 7, 24, 100):
        paged = pages(store, size)
        assert [k for page in paged for k in page] == ordered(records), size
        assert all(len(page) == size for page in paged[:-1])


def test_paging_applies_every_filter(store: StatusStore) -> None:
    records = mixed_ledger(store)
    filters: list[dict[str, Any]] = [
        {"status": Status.TODO},
        {"status": Status.DONE},
        {"status": Status.FAILED},
        {"status": Status.PROCESSING},
        {"workflow": "ohlcv"},
        {"prefix": "ohlcv/a/"},
        {"status": Status.TODO, "workflow": "trades"},
        {"status": Status.TODO, "prefix": "ohlcv/b/", "workflow": "ohlcv"},
    ]
    for wanted in filters:

        def matches(r: FileRecord, wanted: dict[str, Any] = wanted) -> bool:
            return (
                r.status is wanted.get("status", r.status)
                and r.workflow == wanted.get("workflow", r.workflow)
                and r.key.startswith(wanted.get("prefix", ""))
            )

        expected = ordered([r for r in records if matches(r)])
        assert expected, wanted
        assert [r.key for r in store.files(**wanted)] == expected, wanted
        assert [k for page in pages(store, 3, **wanted) for k in page] == expected, wanted


def test_the_cursor_is_strictly_after_its_upload_time_and_key(store: StatusStore) -> None:
    records = mixed_ledger(store)
    keys = ordered(records)
    by_key = {r.key: r for r in records}
    tie = by_key[keys[4]]  # shares its upload_time with keys[5]
    assert by_key[keys[5]].upload_time == tie.upload_time

    assert [r.key for r in store.files(after=(tie.upload_time, tie.key))] == keys[5:]
    assert [r.key for r in store.files(after=(tie.upload_time, ""))] == keys[4:]
    assert [r.key for r in store.files(after=(tie.upload_time - 0.5, "~"))] == keys[4:]
    last = by_key[keys[-1]]
    assert store.files(after=(last.upload_time, last.key)) == []
    assert store.files(after=(T0 + 10**6, "")) == []
