"""LocalObjectStore and FolderWatcher on a real folder with real (inotify) file-system events."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestflow.adapters.events.watcher import FolderWatcher
from ingestflow.adapters.storage.local import LocalObjectStore


def write(root: Path, key: str, data: str = "Date\n", mtime: float | None = None) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --- LocalObjectStore ----------------------------------------------------------------------


def test_listing_gives_relative_slash_separated_keys_at_any_depth(tmp_path: Path) -> None:
    for key in ("top.csv", "ohlcv/a.csv", "ohlcv/2024/01/02/b.csv.gz", "x y/ünï.csv"):
        write(tmp_path, key)
    (tmp_path / "empty-folder").mkdir()
    objects = LocalObjectStore(tmp_path)
    keys = sorted(o.key for o in objects.list())
    assert keys == ["ohlcv/2024/01/02/b.csv.gz", "ohlcv/a.csv", "top.csv", "x y/ünï.csv"]
    assert all(not k.startswith("/") and "\\" not in k for k in keys)


def test_listing_reports_size_mtime_and_a_size_mtime_etag(tmp_path: Path) -> None:
    path = write(tmp_path, "ohlcv/a.csv", "Date,Open\n2024-01-01,1\n", mtime=1_700_000_000.25)
    (info,) = LocalObjectStore(tmp_path).list()
    st = path.stat()
    assert info.key == "ohlcv/a.csv"
    assert info.size == st.st_size == 23
    assert info.mtime == st.st_mtime == pytest.approx(1_700_000_000.25)
    assert info.etag == f"{st.st_size}-{st.st_mtime_ns}"


def test_listing_skips_hidden_folders_at_any_depth(tmp_path: Path) -> None:
    write(tmp_path, "ohlcv/a.csv")
    write(tmp_path, ".ingestflow-tmp/engine-1/x.csv")
    write(tmp_path, ".git/objects/y.csv")
    write(tmp_path, "ohlcv/.staging/z.csv")
    write(tmp_path, "ohlcv/2024/.cache/deep/w.csv")
    keys = [o.key for o in LocalObjectStore(tmp_path).list()]
    assert keys == ["ohlcv/a.csv"]


def test_stat_finds_files_by_key_and_nothing_else(tmp_path: Path) -> None:
    write(tmp_path, "ohlcv/2024/a.csv", "12345")
    objects = LocalObjectStore(tmp_path)
    info = objects.stat("ohlcv/2024/a.csv")
    assert info is not None
    assert (info.key, info.size) == ("ohlcv/2024/a.csv", 5)
    assert info == next(iter(objects.list()))
    assert objects.stat("ohlcv/2024") is None  # a folder is not an object
    assert objects.stat("ohlcv/2024/missing.csv") is None


def test_the_etag_changes_when_the_content_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "one", mtime=1_700_000_000)
    objects = LocalObjectStore(tmp_path)
    before = objects.stat("a.csv")
    path.write_text("two, longer")
    after = objects.stat("a.csv")
    assert before is not None and after is not None
    assert before.etag != after.etag
    assert after.size == len("two, longer")


def test_the_etag_changes_when_only_the_modification_time_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "same", mtime=1_700_000_000)
    objects = LocalObjectStore(tmp_path)
    before = objects.stat("a.csv")
    path.write_text("SAME")  # same size, new content
    os.utime(path, (1_700_000_001, 1_700_000_001))
    after = objects.stat("a.csv")
    assert before is not None and after is not None
    assert before.size == after.size
    assert before.etag != after.etag


def test_the_etag_stays_the_same_when_nothing_changes(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "same", mtime=1_700_000_000)
    objects = LocalObjectStore(tmp_path)
    first, second = objects.stat("a.csv"), objects.stat("a.csv")
    assert first is not None and first == second
    assert [o.etag for o in objects.list()] == [first.etag]


def test_the_bucket_defaults_to_the_folder_name(tmp_path: Path) -> None:
    (tmp_path / "my-landing").mkdir()
    assert LocalObjectStore(tmp_path / "my-landing").bucket == "my-landing"
    assert LocalObjectStore(tmp_path / "my-landing", bucket="raw").bucket == "raw"


def test_key_for_maps_paths_under_the_root_and_refuses_others(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = write(landing, "ohlcv/2024/a.csv")
    objects = LocalObjectStore(landing)
    assert objects.key_for(path) == "ohlcv/2024/a.csv"
    assert objects.path_for("ohlcv/2024/a.csv") == path
    assert objects.key_for(tmp_path / "outside.csv") is None


# --- FolderWatcher ---------------------------------------------------------------------------


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, FolderWatcher]]:
    """A started watcher over a landing folder whose sub-folders exist before it starts (files in
    folders created while watching have their own test)."""
    root = tmp_path / "landing"
    (root / "ohlcv" / "2024").mkdir(parents=True)
    watcher = FolderWatcher(root)
    watcher.start()
    try:
        yield root, watcher
    finally:
        watcher.stop()


def drain_until(watcher: FolderWatcher, wanted: str, seconds: float = 5.0) -> list[str]:
    """Drain events until `wanted` is announced or the deadline passes."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        seen += watcher.drain(0.05)
    return seen


def drain_for(watcher: FolderWatcher, seconds: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += watcher.drain(0.05)
    return seen


def test_a_file_is_announced_when_closed_after_writing_not_while_open(
    watched: tuple[Path, FolderWatcher],
) -> None:
    root, watcher = watched
    with (root / "ohlcv" / "open.csv").open("w") as handle:
        handle.write("Date,Open\n")
        handle.flush()
        os.fsync(handle.fileno())
        # A slow writer (a stalled download, a paused export) may be idle for a while.
        assert "ohlcv/open.csv" not in drain_for(watcher, 1.5)
        handle.write("2024-01-01,1\n")
        handle.flush()
        assert "ohlcv/open.csv" not in drain_for(watcher, 0.2)
    assert "ohlcv/open.csv" in drain_until(watcher, "ohlcv/open.csv")


def test_a_file_renamed_into_place_is_announced_under_its_final_name(
    watched: tuple[Path, FolderWatcher],
) -> None:
    root, watcher = watched
    write(root, "ohlcv/2024/x.csv.tmp", "Date\n")
    os.replace(root / "ohlcv/2024/x.csv.tmp", root / "ohlcv/2024/x.csv")
    assert "ohlcv/2024/x.csv" in drain_until(watcher, "ohlcv/2024/x.csv")


def test_a_file_moved_in_from_outside_the_landing_folder_is_announced(
    watched: tuple[Path, FolderWatcher],
) -> None:
    """`mv ~/staging/x.csv landing/ohlcv/` (same file system) is a move into place too."""
    root, watcher = watched
    staged = write(root.parent / "staging", "x.csv", "Date\n")
    drain_for(watcher, 0.2)
    os.replace(staged, root / "ohlcv" / "x.csv")
    assert "ohlcv/x.csv" in drain_until(watcher, "ohlcv/x.csv", seconds=3.0)


# watchdog warns (from its own thread) when a new folder's watch is added twice, once by the
# recursive walk and once by the folder's own creation event; with warnings as errors that
# warning would kill watchdog's thread and hide what this test is about.
@pytest.mark.filterwarnings("ignore:Callback with id .* already exists:RuntimeWarning")
def test_files_written_at_once_into_new_nested_folders_are_announced(tmp_path: Path) -> None:
    """`mkdir -p ohlcv/<day>/<hour> && cp x.csv ohlcv/<day>/<hour>/`, ten times over."""
    root = tmp_path / "landing"
    root.mkdir()
    watcher = FolderWatcher(root)
    watcher.start()
    try:
        for i in range(10):
            key = f"ohlcv/day{i}/hour{i}/candles.csv"
            write(root, key, "Date\n")
            assert key in drain_until(watcher, key, seconds=1.5), f"missed {key}"
    finally:
        watcher.stop()


def test_reading_or_touching_a_file_announces_nothing(
    watched: tuple[Path, FolderWatcher],
) -> None:
    root, watcher = watched
    path = root / "ohlcv" / "old.csv"
    path.write_text("Date\n")
    assert "ohlcv/old.csv" in drain_until(watcher, "ohlcv/old.csv")
    assert path.read_text() == "Date\n"
    os.utime(path)
    path.chmod(0o600)
    # A marker written afterwards proves events were flowing during the wait.
    write(root, "ohlcv/marker.csv")
    seen = drain_until(watcher, "ohlcv/marker.csv")
    seen += drain_for(watcher, 0.2)
    assert "ohlcv/marker.csv" in seen
    assert "ohlcv/old.csv" not in seen


def test_drain_returns_within_its_timeout_when_nothing_happens(
    watched: tuple[Path, FolderWatcher],
) -> None:
    _, watcher = watched
    for timeout in (0.0, 0.2, 0.5):
        started = time.monotonic()
        assert watcher.drain(timeout) == []
        elapsed = time.monotonic() - started
        assert elapsed < timeout + 0.25


def test_drain_returns_every_pending_key(watched: tuple[Path, FolderWatcher]) -> None:
    root, watcher = watched
    keys = [f"ohlcv/2024/{i}.csv" for i in range(5)]
    for key in keys:
        write(root, key)
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while not set(keys) <= set(seen) and time.monotonic() < deadline:
        seen += watcher.drain(0.05)
    assert set(keys) <= set(seen)


def test_a_stopped_watcher_announces_nothing_more(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    root.mkdir()
    watcher = FolderWatcher(root)
    watcher.start()
    write(root, "before.csv")
    assert "before.csv" in drain_until(watcher, "before.csv")
    watcher.stop()
    write(root, "after.csv")
    assert "after.csv" not in drain_for(watcher, 0.3)
    watcher.stop()  # stopping twice is harmless


def test_a_file_reopened_to_append_is_announced_once_it_settles_not_at_every_close(
    tmp_path: Path,
) -> None:
    """Log shippers close and reopen a file to append: each close is not an arrival."""
    root = tmp_path / "landing"
    (root / "logs").mkdir(parents=True)
    watcher = FolderWatcher(root, settle=1.0)
    watcher.start()
    try:
        path = root / "logs" / "app.csv"
        seen: list[str] = []
        for i in range(4):
            with path.open("a") as handle:
                handle.write(f"line {i}\n")
            closed_at = time.monotonic()
            seen += drain_for(watcher, 0.4)
        assert "logs/app.csv" not in seen  # 0.4 s between appends: never settled
        seen = drain_until(watcher, "logs/app.csv", seconds=5.0)
        assert "logs/app.csv" in seen
        assert time.monotonic() - closed_at >= 0.9
    finally:
        watcher.stop()
