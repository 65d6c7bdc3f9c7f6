"""The file-system side of opening a SQLite ledger: its folder, read-only opening, and one
readable line for every way opening can fail (a folder that is a file, a read-only folder or
file, a file that is not a database)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ingestflow.domain.errors import LedgerError


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def prepare_folder(path: str) -> None:
    """Create the ledger's folder if needed, or raise LedgerError saying why it cannot be."""
    ledger = Path(path)
    if ledger.is_dir():
        raise LedgerError(f"cannot open ledger {ledger}: it is a folder, not a file")
    folder = ledger.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder
        )
        raise LedgerError(
            f"cannot open ledger {ledger}: {blocker} is a file, not a folder"
        ) from None
    except PermissionError:
        raise LedgerError(
            f"cannot open ledger {ledger}: cannot create folder {folder}: permission denied"
        ) from None
    except OSError as exc:
        raise LedgerError(
            f"cannot open ledger {ledger}: cannot create folder {folder}: {exc.strerror or exc}"
        ) from None


def open_problem(path: str, exc: sqlite3.Error, read_only: bool) -> str:
    """One line naming the ledger and why SQLite could not open it."""
    ledger = Path(path)
    folder = ledger.parent
    if not read_only and path != ":memory:":
        if not os.access(folder, os.W_OK):
            if not ledger.exists():
                return f"cannot open ledger {ledger}: folder {folder} is read-only"
            return (
                f"cannot open ledger {ledger}: folder {folder} is read-only (SQLite keeps"
                f" {ledger.name}-wal and {ledger.name}-shm next to the ledger)"
            )
        if ledger.exists() and not os.access(ledger, os.W_OK):
            return f"cannot open ledger {ledger}: the file is read-only"
    message = _one_line(exc)
    if "not a database" in message:
        return f"cannot open ledger {ledger}: not a SQLite database ({message})"
    return f"cannot open ledger {ledger}: {message}"


def _try_connect(uri: str, busy_timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(
        uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL index too
    except BaseException:
        db.close()
        raise
    return db


def connect_read_only(path: str, busy_timeout: float) -> sqlite3.Connection:
    """A connection that cannot write (`mode=ro`). When the ledger's folder is read-only and
    SQLite cannot create the WAL index (`-shm`) there, the ledger is opened `immutable` — only
    when no write-ahead log holds changes, since an immutable reader would not see them."""
    ledger = Path(path)
    if not ledger.exists():
        raise LedgerError(f"cannot open ledger {ledger}: no such file")
    if ledger.is_dir():
        raise LedgerError(f"cannot open ledger {ledger}: it is a folder, not a file")
    uri = f"file:{quote(str(ledger.absolute()))}?mode=ro"
    try:
        return _try_connect(uri, busy_timeout)
    except sqlite3.Error as exc:
        folder, shm = ledger.parent, Path(f"{path}-shm")
        if os.access(folder, os.W_OK) or shm.exists():
            raise LedgerError(open_problem(path, exc, True)) from None
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise LedgerError(
            f"cannot open ledger {ledger}: folder {ledger.parent} is read-only and {wal.name}"
            " holds changes not yet in the ledger; open it once with write access"
        )
    try:
        return _try_connect(uri + "&immutable=1", busy_timeout)
    except sqlite3.Error as exc:
        raise LedgerError(open_problem(path, exc, True)) from None
