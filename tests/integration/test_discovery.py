"""Discovery over a real landing folder into a real SQLite ledger."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from discovery_support import Watched

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.local import LocalObjectStore
from ingestflow.domain.records import FileOutcome
from ingestflow.domain.status import Status
from ingestflow.domain.workflow import Workflow
from ingestflow.services.discovery import Discovery

OHLCV = Workflow("ohlcv", "ohlcv/", batch_size=1)
SPECIAL = Workflow("special", "ohlcv/special/", batch_size=1)
FX = Workflow("fx", "fx/", include=("*.txt",), batch_size=1)
WORKFLOWS = (OHLCV, SPECIAL, FX)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    ledger = SqliteStatusStore(tmp_path / "l.db")
    ledger.sync_workflows(WORKFLOWS)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    root.mkdir()
    return root


def write(root: Path, key: str, text: str = "Date\n", age: float = 60.0) -> Path:
    """A landing file last modified `age` seconds ago."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def discovery(store: SqliteStatusStore, landing: Path, settle: float = 5.0) -> Watched:
    return Watched(Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle))


def test_reconcile_registers_settled_routed_files_with_their_details(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/a.csv", "Date,Open\n")
    write(landing, "ohlcv/2024/01/b.csv.gz", "zz")
    write(landing, "ohlcv/special/c.csv")
    write(landing, "fx/rates.txt")
    objects = LocalObjectStore(landing)
    listing = discovery(store, landing).reconcile(time.time())
    registered = {t.key: t for t in listing.registered}
    assert sorted(registered) == [
        "fx/rates.txt",
        "ohlcv/2024/01/b.csv.gz",
        "ohlcv/a.csv",
        "ohlcv/special/c.csv",
    ]
    assert {k: t.workflow for k, t in registered.items()} == {
        "fx/rates.txt": "fx",
        "ohlcv/2024/01/b.csv.gz": "ohlcv",
        "ohlcv/a.csv": "ohlcv",
        "ohlcv/special/c.csv": "special",  # the longest matching prefix wins
    }
    assert all(t.old_status is None and t.new_status is Status.TODO for t in listing.registered)
    assert listing.unsettled == [] and listing.unrouted == []
    for key in registered:
        record = store.get(objects.bucket, key)
        info = objects.stat(key)
        assert record is not None and info is not None
        assert record.status is Status.TODO
        assert (record.size, record.etag) == (info.size, info.etag)
        assert record.upload_time == pytest.approx(info.mtime)
        assert record.prefix == key.rsplit("/", 1)[0] + "/"
    assert store.counts()[Status.TODO] == 4


TEMPORARY_OR_HIDDEN = [
    "ohlcv/a.csv.tmp",
    "ohlcv/a.csv.part",
    "ohlcv/a.csv.partial",
    "ohlcv/a.csv.crdownload",
    "ohlcv/a.csv~",
    "ohlcv/~$a.csv",
    "ohlcv/.a.csv",
    "ohlcv/.staging/a.csv",
    ".hidden/ohlcv/a.csv",
]


def test_temporary_and_hidden_names_are_ignored_not_registered_nor_unrouted(
    store: SqliteStatusStore, landing: Path
) -> None:
    for key in TEMPORARY_OR_HIDDEN:
        write(landing, key)
    write(landing, "ohlcv/real.csv")
    listing = discovery(store, landing).reconcile(time.time())
    assert [t.key for t in listing.registered] == ["ohlcv/real.csv"]
    assert listing.unrouted == [] and listing.unsettled == []
    assert store.unrouted() == []
    assert [r.key for r in store.files()] == ["ohlcv/real.csv"]


def test_a_temporary_file_is_registered_once_renamed_to_its_final_name(
    store: SqliteStatusStore, landing: Path
) -> None:
    finder = discovery(store, landing)
    temp = write(landing, "ohlcv/x.csv.part")
    assert finder.reconcile(time.time()).registered == []
    os.replace(temp, landing / "ohlcv" / "x.csv")
    assert [t.key for t in finder.reconcile(time.time()).registered] == ["ohlcv/x.csv"]


def test_files_younger_than_the_settle_time_are_unsettled_not_registered(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/fresh.csv", age=0.0)
    write(landing, "ohlcv/old.csv", age=60.0)
    finder = discovery(store, landing, settle=30.0)
    now = time.time()
    listing = finder.reconcile(now)
    assert [t.key for t in listing.registered] == ["ohlcv/old.csv"]
    assert listing.unsettled == ["ohlcv/fresh.csv"]
    assert store.get(finder.objects.bucket, "ohlcv/fresh.csv") is None
    assert store.unrouted() == []
    later = finder.reconcile(now + 31.0)
    assert [t.key for t in later.registered] == ["ohlcv/fresh.csv"]
    assert later.unsettled == []


def test_unrouted_files_are_recorded_with_their_reason(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "notes/readme.md")
    write(landing, "top.csv")
    write(landing, "ohlcv/notes.txt")
    write(landing, "ohlcv/special/image.png")
    write(landing, "fx/rates.csv")
    write(landing, "ohlcv/bad\x01name.csv")
    write(landing, "ohlcv/back\\slash.csv")
    write(landing, "ohlcv/good.csv")
    listing = discovery(store, landing).reconcile(time.time())
    assert [t.key for t in listing.registered] == ["ohlcv/good.csv"]
    reasons = {u.key: u.reason for u in store.unrouted()}
    assert reasons == {u.key: u.reason for u in listing.unrouted}
    assert reasons.pop("notes/readme.md") == "no workflow prefix matches"
    assert reasons.pop("top.csv") == "no workflow prefix matches"
    assert reasons.pop("ohlcv/notes.txt") == "matches no include pattern of workflow ohlcv"
    assert reasons.pop("ohlcv/special/image.png") == (
        "matches no include pattern of workflow special, ohlcv"
    )
    assert reasons.pop("fx/rates.csv") == "matches no include pattern of workflow fx"
    assert "control characters" in reasons.pop("ohlcv/bad\x01name.csv")
    assert "'/'-separated" in reasons.pop("ohlcv/back\\slash.csv")
    assert reasons == {}
    sizes = {u.key: u.size for u in store.unrouted()}
    assert sizes["notes/readme.md"] == len("Date\n")


def test_the_unrouted_list_follows_the_landing_folder(
    store: SqliteStatusStore, landing: Path
) -> None:
    stray = write(landing, "ohlcv/notes.txt")
    finder = discovery(store, landing)
    finder.reconcile(time.time())
    assert [u.key for u in store.unrouted()] == ["ohlcv/notes.txt"]
    os.replace(stray, landing / "ohlcv" / "notes.csv")
    listing = finder.reconcile(time.time())
    assert store.unrouted() == []
    assert [t.key for t in listing.registered] == ["ohlcv/notes.csv"]


def test_a_second_reconcile_registers_nothing_new(store: SqliteStatusStore, landing: Path) -> None:
    for i in range(20):
        write(landing, f"ohlcv/{i:02d}.csv")
    finder = discovery(store, landing)
    assert len(finder.reconcile(time.time()).registered) == 20
    assert finder.reconcile(time.time()).registered == []
    # A restarted process (new Discovery, same ledger) registers nothing new either.
    assert discovery(store, landing).reconcile(time.time()).registered == []
    assert store.counts()[Status.TODO] == 20
    assert len(store.history(finder.objects.bucket, "ohlcv/00.csv")) == 1


def test_a_new_file_next_to_known_ones_is_the_only_one_registered(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/a.csv")
    finder = discovery(store, landing)
    finder.reconcile(time.time())
    write(landing, "ohlcv/b.csv")
    assert [t.key for t in finder.reconcile(time.time()).registered] == ["ohlcv/b.csv"]


def _process(store: SqliteStatusStore, key: str) -> None:
    batch = store.claim(OHLCV, time.time(), "test")
    assert batch is not None and [f.key for f in batch.files] == [key]
    (record,) = batch.files
    store.finish(OHLCV, batch.batch_id, [FileOutcome.done(key, record.etag, "out", 1)], time.time())


def test_a_changed_file_is_registered_again_after_it_was_processed(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/a.csv", "one", age=120)
    finder = discovery(store, landing)
    finder.reconcile(time.time())
    _process(store, "ohlcv/a.csv")
    bucket = finder.objects.bucket
    done = store.get(bucket, "ohlcv/a.csv")
    assert done is not None and done.status is Status.DONE
    write(landing, "ohlcv/a.csv", "two, longer", age=60)
    listing = finder.reconcile(time.time())
    (change,) = listing.registered
    assert (change.key, change.old_status, change.new_status) == (
        "ohlcv/a.csv",
        Status.DONE,
        Status.TODO,
    )
    again = store.get(bucket, "ohlcv/a.csv")
    info = finder.objects.stat("ohlcv/a.csv")
    assert again is not None and info is not None
    assert again.status is Status.TODO
    assert again.etag == info.etag != done.etag
    assert again.size == len("two, longer")
    assert finder.reconcile(time.time()).registered == []


def test_a_file_with_the_same_size_but_a_new_modification_time_is_registered_again(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/a.csv", "one", age=120)
    finder = discovery(store, landing)
    finder.reconcile(time.time())
    _process(store, "ohlcv/a.csv")
    write(landing, "ohlcv/a.csv", "two", age=60)
    (change,) = finder.reconcile(time.time()).registered
    assert change.reason == "re-uploaded" and change.new_status is Status.TODO


def test_a_file_changed_while_still_waiting_is_updated_in_place(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/a.csv", "one", age=120)
    finder = discovery(store, landing)
    finder.reconcile(time.time())
    write(landing, "ohlcv/a.csv", "two, longer", age=60)
    finder.reconcile(time.time())
    record = store.get(finder.objects.bucket, "ohlcv/a.csv")
    info = finder.objects.stat("ohlcv/a.csv")
    assert record is not None and info is not None
    assert (record.status, record.etag, record.size) == (Status.TODO, info.etag, info.size)
    assert store.counts()[Status.TODO] == 1


def test_announced_keys_are_registered_without_waiting_for_the_settle_time(
    store: SqliteStatusStore, landing: Path
) -> None:
    write(landing, "ohlcv/new.csv", age=0.0)
    write(landing, "ohlcv/new.csv.tmp", age=0.0)
    finder = discovery(store, landing, settle=3600.0)
    listing = finder.register_keys(
        ["ohlcv/new.csv", "ohlcv/new.csv", "ohlcv/new.csv.tmp", "ohlcv/vanished.csv"],
        time.time(),
    )
    assert [t.key for t in listing.registered] == ["ohlcv/new.csv"]
    assert finder.reconcile(time.time()).registered == []


def test_a_file_with_a_future_modification_time_is_registered_once_seen_unchanged_for_settle(
    store: SqliteStatusStore, landing: Path
) -> None:
    """Clock skew: a writer's clock ahead of ours must not hide the file forever."""
    write(landing, "ohlcv/skewed.csv", age=-3600.0)  # modified "in an hour"
    finder = discovery(store, landing, settle=0.3)
    first = finder.reconcile(time.time())
    assert first.registered == []
    assert first.unsettled == ["ohlcv/skewed.csv"]
    time.sleep(0.35)
    now = time.time()
    second = finder.reconcile(now)
    assert [t.key for t in second.registered] == ["ohlcv/skewed.csv"]
    record = store.get(finder.objects.bucket, "ohlcv/skewed.csv")
    assert record is not None and record.upload_time <= now


def test_a_future_file_that_keeps_changing_is_not_taken(
    store: SqliteStatusStore, landing: Path
) -> None:
    finder = discovery(store, landing, settle=0.3)
    for i in range(3):
        write(landing, "ohlcv/growing.csv", text="Date\n" * (i + 1), age=-3600.0)
        assert finder.reconcile(time.time()).registered == []
        time.sleep(0.2)


def test_a_key_whose_output_path_cannot_be_derived_is_refused_up_front_as_unrouted(
    store: SqliteStatusStore, landing: Path
) -> None:
    deep = "ohlcv/" + "/".join(["d" * 200] * 3) + "/x.csv"
    write(landing, deep)
    write(landing, "ohlcv/ok.csv")
    finder = Watched(
        Discovery(store, LocalObjectStore(landing), WORKFLOWS, 0.0, max_output_path=300)
    )
    listing = finder.reconcile(time.time())
    assert [t.key for t in listing.registered] == ["ohlcv/ok.csv"]
    (unrouted,) = store.unrouted()
    assert unrouted.key == deep
    assert unrouted.reason.startswith("cannot be processed: output path would be")


def test_completeness_markers_are_recorded_never_registered_nor_unrouted(
    store: SqliteStatusStore, landing: Path
) -> None:
    marked = Workflow("daily", "daily/", ready_marker="_SUCCESS")
    finder = Watched(Discovery(store, LocalObjectStore(landing), (marked, OHLCV), settle=0.0))
    write(landing, "daily/2024-01-01/a.csv")
    write(landing, "daily/2024-01-01/_SUCCESS", text="")
    write(landing, "daily/2024-01-02/b.csv")
    write(landing, "ohlcv/_SUCCESS", text="")  # not a marker of ohlcv: unrouted
    listing = finder.reconcile(time.time())
    assert sorted(t.key for t in listing.registered) == [
        "daily/2024-01-01/a.csv",
        "daily/2024-01-02/b.csv",
    ]
    assert store.markers(finder.objects.bucket) == [("daily", "daily/2024-01-01/")]
    assert [u.key for u in store.unrouted()] == ["ohlcv/_SUCCESS"]
    write(landing, "daily/2024-01-02/_SUCCESS", text="")
    finder.register_keys(["daily/2024-01-02/_SUCCESS"], time.time())
    assert sorted(store.markers(finder.objects.bucket)) == [
        ("daily", "daily/2024-01-01/"),
        ("daily", "daily/2024-01-02/"),
    ]
    (landing / "daily/2024-01-01/_SUCCESS").unlink()
    finder.reconcile(time.time())
    assert store.markers(finder.objects.bucket) == [("daily", "daily/2024-01-02/")]
