"""The SQLite ledger on read-only file systems: `SqliteStatusStore(path, read_only=True)` reads a
ledger its user cannot write (status, files, history), and every way opening can fail is one
LedgerError line naming the path and the problem.

The machine runs tests as root, and root ignores file permissions: the stores under test run in
subprocesses as an unprivileged user (uid 65534, `setpriv`), on folders under /tmp that user
can traverse but not write.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import ObjectInfo
from ingestflow.domain.status import Status

T0 = 1_700_000_000.0
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run a store as an unprivileged user",
)

# Opens a store as asked and prints what it could read, or the LedgerError's message.
PROBE = """
import json, sys
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.errors import LedgerError
from ingestflow.domain.records import ObjectInfo
path, mode = sys.argv[1], sys.argv[2]
try:
    store = SqliteStatusStore(path, read_only=mode == "read-only")
except LedgerError as exc:
    print(json.dumps({"error": str(exc)}))
    sys.exit(0)
out = {
    "counts": {s.value: n for s, n in store.counts().items()},
    "files": [r.key for r in store.files()],
    "history": [t.new_status.value for t in store.history("landing", "ohlcv/a.csv")],
}
try:
    store.register("landing", [(ObjectInfo("ohlcv/new.csv", 1, "v1", 1.0), "ohlcv")], 1.0)
    out["write"] = "ok"
except LedgerError as exc:
    out["write"] = str(exc)
store.close()
print(json.dumps(out))
"""


def probe(path: Path, mode: str) -> dict[str, Any]:
    """Run PROBE as uid 65534; its one JSON line (a traceback fails the test)."""
    done = subprocess.run(
        [*NOBODY, sys.executable, "-c", PROBE, str(path), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder under /tmp that uid 65534 can traverse (made read-only by the tests)."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="ledger-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        path.chmod(0o755)
        shutil.rmtree(path)


def make_ledger(path: Path) -> None:
    """Two files, one of them DONE, written by root and closed cleanly (no -wal left)."""
    store = SqliteStatusStore(path)
    try:
        store.register(
            "landing",
            [(ObjectInfo(f"ohlcv/{n}.csv", 10, "v1", T0 + i), "ohlcv") for i, n in enumerate("ab")],
            T0,
        )
    finally:
        store.close()


def one_line(message: str, *parts: str) -> None:
    assert "\n" not in message and "Traceback" not in message, message
    for part in parts:
        assert part in message, message


EXPECTED_COUNTS = {"TODO": 2, "PROCESSING": 0, "DONE": 0, "FAILED": 0}


@needs_root
def test_status_files_and_history_read_a_ledger_in_a_read_only_folder(folder: Path) -> None:
    ledger = folder / "ledger.db"
    make_ledger(ledger)
    folder.chmod(0o555)

    result = probe(ledger, "read-only")

    assert result["counts"] == EXPECTED_COUNTS
    assert result["files"] == ["ohlcv/a.csv", "ohlcv/b.csv"]
    assert result["history"] == ["TODO"]
    one_line(result["write"], str(ledger), "read-only")
    assert sorted(p.name for p in folder.iterdir()) == ["ledger.db"]


@needs_root
def test_a_reader_in_a_read_only_folder_sees_what_a_running_writer_committed(
    folder: Path,
) -> None:
    ledger = folder / "ledger.db"
    make_ledger(ledger)
    writer = SqliteStatusStore(ledger)  # keeps the -wal and -shm files in place
    try:
        writer.register("landing", [(ObjectInfo("ohlcv/c.csv", 10, "v1", T0), "ohlcv")], T0)
        folder.chmod(0o555)

        result = probe(ledger, "read-only")
    finally:
        folder.chmod(0o755)
        writer.close()

    assert result["counts"]["TODO"] == 3
    assert "ohlcv/c.csv" in result["files"]


@needs_root
def test_a_read_only_folder_with_unmerged_changes_and_no_wal_index_is_refused(
    folder: Path,
) -> None:
    ledger = folder / "ledger.db"
    make_ledger(ledger)
    crash = (
        "import os, signal, sys\n"
        "from ingestflow.adapters.state.sqlite import SqliteStatusStore\n"
        "from ingestflow.domain.records import ObjectInfo\n"
        "store = SqliteStatusStore(sys.argv[1])\n"
        "store.register('landing', [(ObjectInfo('ohlcv/c.csv', 1, 'v1', 1.0), 'ohlcv')], 1.0)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", crash, str(ledger)], check=False, timeout=60)
    assert done.returncode == -signal.SIGKILL
    Path(f"{ledger}-shm").unlink()
    assert Path(f"{ledger}-wal").stat().st_size > 0
    folder.chmod(0o555)

    result = probe(ledger, "read-only")

    one_line(result["error"], str(ledger), "read-only", "ledger.db-wal")


@needs_root
def test_opening_for_writing_in_a_read_only_folder_names_the_folder(folder: Path) -> None:
    ledger = folder / "ledger.db"
    make_ledger(ledger)
    folder.chmod(0o555)

    for path in (ledger, folder / "new.db"):
        result = probe(path, "write")
        one_line(result["error"], f"cannot open ledger {path}", f"folder {folder} is read-only")
    one_line(probe(folder / "sub" / "new.db", "write")["error"], str(folder / "sub"))


@needs_root
def test_a_read_only_ledger_file_in_a_writable_folder_is_named(folder: Path) -> None:
    ledger = folder / "ledger.db"
    make_ledger(ledger)
    ledger.chmod(0o444)
    folder.chmod(0o777)  # uid 65534 may create the -wal and -shm files, not write the ledger

    result = probe(ledger, "write")

    one_line(result["error"], f"cannot open ledger {ledger}", "the file is read-only")
    assert probe(ledger, "read-only")["counts"] == EXPECTED_COUNTS


def test_a_ledger_path_under_a_file_names_that_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")

    for read_only in (False, True):
        with pytest.raises(LedgerError) as caught:
            SqliteStatusStore(blocker / "sub" / "ledger.db", read_only=read_only)
        one_line(str(caught.value), str(blocker / "sub" / "ledger.db"))
    with pytest.raises(LedgerError) as caught:
        SqliteStatusStore(blocker / "sub" / "ledger.db")
    one_line(str(caught.value), f"{blocker} is a file, not a folder")


def test_a_folder_or_a_file_that_is_not_a_ledger_is_named(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just some text" * 100)

    for read_only in (False, True):
        with pytest.raises(LedgerError) as caught:
            SqliteStatusStore(garbage, read_only=read_only)
        one_line(str(caught.value), str(garbage), "not a SQLite database")
        with pytest.raises(LedgerError) as caught:
            SqliteStatusStore(tmp_path, read_only=read_only)
        one_line(str(caught.value), str(tmp_path), "is a folder")


def test_a_read_only_store_needs_an_existing_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError) as caught:
        SqliteStatusStore(tmp_path / "missing.db", read_only=True)

    one_line(str(caught.value), str(tmp_path / "missing.db"), "no such file")
    assert not (tmp_path / "missing.db").exists()


def test_a_read_only_store_never_writes_and_starts_no_checkpoint_thread(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    make_ledger(ledger)
    before = ledger.read_bytes()

    store = SqliteStatusStore(ledger, read_only=True)
    try:
        assert store.counts()[Status.TODO] == 2
        assert "ledger-checkpoint" not in {t.name for t in threading.enumerate()}
        writes = [
            lambda: store.sync_workflows([]),
            lambda: store.register("landing", [], T0),
            lambda: store.retry("landing", None, T0),
            lambda: store.set_markers("landing", [("ohlcv", "ohlcv/")]),
            lambda: store.reap([], T0),
        ]
        for write in writes:
            with pytest.raises(LedgerError) as caught:
                write()
            one_line(str(caught.value), str(ledger), "read-only")
    finally:
        store.close()
    assert ledger.read_bytes() == before
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT count(*) FROM markers").fetchone() == (0,)
