"""The local landing folder: listing, file-system events, registration in a real ledger."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestflow.adapters.events.watcher import FolderWatcher
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.local import LocalObjectStore
from ingestflow.domain.workflow import Workflow
from ingestflow.services.discovery import Discovery

WORKFLOWS = (Workflow("ohlcv", "ohlcv/"), Workflow("fx", "fx/", include=("*.txt",)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStatusStore]:
    ledger = SqliteStatusStore(tmp_path / "ledger.db")
    yield ledger
    ledger.close()


def write(root: Path, key: str, text: str = "Date\n", age: float = 60.0) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_listing_gives_relative_slash_keys_and_skips_hidden_folders(tmp_path: Path) -> None:
    write(tmp_path, "ohlcv/2024/a.csv")
    write(tmp_path, "b.csv")
    write(tmp_path, ".ingestflow-tmp/x.csv")
    objects = LocalObjectStore(tmp_path)
    assert sorted(o.key for o in objects.list()) == ["b.csv", "ohlcv/2024/a.csv"]
    assert objects.bucket == tmp_path.name


def test_the_etag_changes_when_the_content_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "one")
    objects = LocalObjectStore(tmp_path)
    before = objects.stat("a.csv")
    path.write_text("two, longer")
    after = objects.stat("a.csv")
    assert before is not None and after is not None
    assert before.etag != after.etag
    assert objects.stat("missing.csv") is None


def test_reconcile_registers_settled_routed_files_once(
    tmp_path: Path, store: SqliteStatusStore
) -> None:
    landing = tmp_path / "landing"
    write(landing, "ohlcv/a.csv")
    write(landing, "ohlcv/b.csv.gz")
    write(landing, "ohlcv/c.csv.tmp")
    write(landing, "ohlcv/.d.csv")
    discovery = Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle=1.0)
    first = discovery.reconcile(time.time())
    assert sorted(t.key for t in first.registered) == ["ohlcv/a.csv", "ohlcv/b.csv.gz"]
    assert discovery.reconcile(time.time()).registered == []
    again = Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle=1.0)
    assert again.reconcile(time.time()).registered == []  # a restart registers nothing new


def test_files_still_being_written_wait_for_the_settle_time(
    tmp_path: Path, store: SqliteStatusStore
) -> None:
    landing = tmp_path / "landing"
    write(landing, "ohlcv/fresh.csv", age=0.0)
    discovery = Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle=30.0)
    listing = discovery.reconcile(time.time())
    assert listing.registered == []
    assert listing.unsettled == ["ohlcv/fresh.csv"]
    assert discovery.reconcile(time.time() + 31).registered != []


def test_unrouted_files_are_recorded_with_their_reason(
    tmp_path: Path, store: SqliteStatusStore
) -> None:
    landing = tmp_path / "landing"
    write(landing, "notes/readme.md")
    write(landing, "ohlcv/notes.txt")
    write(landing, "fx/rates.txt")
    Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle=0).reconcile(time.time())
    unrouted = {u.key: u.reason for u in store.unrouted()}
    assert unrouted == {
        "notes/readme.md": "no workflow prefix matches",
        "ohlcv/notes.txt": "matches no include pattern of workflow ohlcv",
    }


def test_a_rewritten_file_is_registered_again(tmp_path: Path, store: SqliteStatusStore) -> None:
    landing = tmp_path / "landing"
    write(landing, "ohlcv/a.csv", "one")
    discovery = Discovery(store, LocalObjectStore(landing), WORKFLOWS, settle=0)
    discovery.reconcile(time.time())
    write(landing, "ohlcv/a.csv", "two, longer", age=30)
    record = store.get(LocalObjectStore(landing).bucket, "ohlcv/a.csv")
    assert record is not None
    discovery.reconcile(time.time())
    updated = store.get(LocalObjectStore(landing).bucket, "ohlcv/a.csv")
    assert updated is not None and updated.etag != record.etag


def drain_until(watcher: FolderWatcher, wanted: str, seconds: float = 5.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        seen += watcher.drain(0.2)
    return seen


def test_the_watcher_announces_closed_and_renamed_files_not_open_ones(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path)
    watcher.start()
    try:
        (tmp_path / "ohlcv").mkdir()
        with (tmp_path / "ohlcv" / "open.csv").open("w") as handle:
            handle.write("Date\n")
            handle.flush()
            assert "ohlcv/open.csv" not in watcher.drain(0.5)
        assert "ohlcv/open.csv" in drain_until(watcher, "ohlcv/open.csv")
        (tmp_path / "ohlcv" / "b.csv.tmp").write_text("Date\n")
        os.replace(tmp_path / "ohlcv" / "b.csv.tmp", tmp_path / "ohlcv" / "b.csv")
        assert "ohlcv/b.csv" in drain_until(watcher, "ohlcv/b.csv")
        started = time.monotonic()
        watcher.drain(0.3)
        assert time.monotonic() - started < 2
    finally:
        watcher.stop()
