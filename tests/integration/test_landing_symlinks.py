"""The symbolic-link policy of the local landing store: nothing outside the root is ever read.

Applied at listing time (LocalObjectStore.list), at event time (stat of an announced key) and
through discovery (refused links are unrouted with the reason, never registered)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from discovery_support import Watched

from ingestflow.adapters.events.watcher import FolderWatcher
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.local import (
    LINK_BROKEN,
    LINK_OUTSIDE,
    LINK_REFUSED,
    LocalObjectStore,
)
from ingestflow.domain.workflow import Workflow
from ingestflow.services.discovery import Discovery

CSV = "Date,Open,High,Low,Close,Volume\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n"


def write(path: Path, text: str = CSV) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / "ohlcv").mkdir(parents=True)
    return root


def listed(store: LocalObjectStore) -> dict[str, str | None]:
    return {o.key: o.refused for o in store.list()}


def test_links_are_refused_by_default_with_the_reason_and_never_stat_as_files(
    landing: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "elsewhere" / "secret.csv")
    inside = write(landing / "ohlcv" / "real.csv")
    (landing / "ohlcv" / "passwd.csv").symlink_to("/etc/passwd")
    (landing / "ohlcv" / "outside.csv").symlink_to(outside)
    (landing / "ohlcv" / "inside.csv").symlink_to(inside)
    store = LocalObjectStore(landing)
    assert listed(store) == {
        "ohlcv/inside.csv": LINK_REFUSED,
        "ohlcv/outside.csv": LINK_REFUSED,
        "ohlcv/passwd.csv": LINK_REFUSED,
        "ohlcv/real.csv": None,
    }
    for key in ("ohlcv/passwd.csv", "ohlcv/outside.csv", "ohlcv/inside.csv"):
        info = store.stat(key)
        assert info is not None and info.refused == LINK_REFUSED and info.size == 0


def test_following_links_takes_only_targets_inside_the_landing_folder(
    landing: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "elsewhere" / "secret.csv")
    inside = write(landing / "ohlcv" / "real.csv")
    (landing / "ohlcv" / "passwd.csv").symlink_to("/etc/passwd")
    (landing / "ohlcv" / "outside.csv").symlink_to(outside)
    (landing / "ohlcv" / "inside.csv").symlink_to(inside)
    (landing / "ohlcv" / "relative.csv").symlink_to("real.csv")
    (landing / "ohlcv" / "escape.csv").symlink_to("../../elsewhere/secret.csv")
    (landing / "ohlcv" / "broken.csv").symlink_to(tmp_path / "nowhere.csv")
    store = LocalObjectStore(landing, follow_symlinks=True)
    assert listed(store) == {
        "ohlcv/broken.csv": LINK_BROKEN,
        "ohlcv/escape.csv": LINK_OUTSIDE,
        "ohlcv/inside.csv": None,
        "ohlcv/outside.csv": LINK_OUTSIDE,
        "ohlcv/passwd.csv": LINK_OUTSIDE,
        "ohlcv/real.csv": None,
        "ohlcv/relative.csv": None,
    }
    info = store.stat("ohlcv/inside.csv")
    assert info is not None and info.refused is None and info.size == inside.stat().st_size
    outside_info = store.stat("ohlcv/outside.csv")
    assert outside_info is not None and outside_info.refused == LINK_OUTSIDE


def test_a_linked_folder_is_refused_and_its_files_are_never_listed(
    landing: Path, tmp_path: Path
) -> None:
    write(tmp_path / "elsewhere" / "a.csv")
    write(landing / "ohlcv" / "in" / "b.csv")
    (landing / "ohlcv" / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (landing / "ohlcv" / "loop").symlink_to(landing, target_is_directory=True)
    assert listed(LocalObjectStore(landing)) == {
        "ohlcv/in/b.csv": None,
        "ohlcv/loop": LINK_REFUSED,
        "ohlcv/out": LINK_REFUSED,
    }
    following = LocalObjectStore(landing, follow_symlinks=True)
    found = listed(following)
    assert found["ohlcv/out"] == LINK_OUTSIDE
    assert "ohlcv/out/a.csv" not in found
    # A link to an ancestor is followed once, not forever.
    assert found["ohlcv/in/b.csv"] is None
    assert all(k.count("loop") <= 1 for k in found)
    # A file reached through a linked folder is refused when links are not followed.
    info = LocalObjectStore(landing).stat("ohlcv/out/a.csv")
    assert info is not None and info.refused == LINK_REFUSED


def test_discovery_lists_refused_links_as_unrouted_and_registers_only_real_files(
    landing: Path, tmp_path: Path
) -> None:
    write(landing / "ohlcv" / "real.csv")
    (landing / "ohlcv" / "passwd.csv").symlink_to("/etc/passwd")
    store = SqliteStatusStore(tmp_path / "l.db")
    try:
        workflows = (Workflow("ohlcv", "ohlcv/", batch_size=1),)
        finder = Watched(Discovery(store, LocalObjectStore(landing), workflows, settle=0.0))
        listing = finder.reconcile(time.time())
        assert [t.key for t in listing.registered] == ["ohlcv/real.csv"]
        assert [(u.key, u.reason) for u in store.unrouted()] == [("ohlcv/passwd.csv", LINK_REFUSED)]
        # Announced by an event, the link is not registered either.
        announced = finder.register_keys(["ohlcv/passwd.csv"], time.time())
        assert announced.registered == []
        assert store.get(finder.objects.bucket, "ohlcv/passwd.csv") is None
    finally:
        store.close()


def test_a_watched_symlink_is_announced_under_its_own_key_never_its_target(
    landing: Path,
) -> None:
    target = write(landing / "ohlcv" / "real.csv")
    watcher = FolderWatcher(landing)
    watcher.start()
    try:
        (landing / "ohlcv" / "alias.csv").symlink_to(target)
        seen: list[str] = []
        deadline = time.monotonic() + 5
        while "ohlcv/alias.csv" not in seen and time.monotonic() < deadline:
            seen += watcher.drain(0.05)
        assert "ohlcv/alias.csv" in seen
        assert "ohlcv/real.csv" not in seen
    finally:
        watcher.stop()
    info = LocalObjectStore(landing).stat("ohlcv/alias.csv")
    assert info is not None and info.refused == LINK_REFUSED
