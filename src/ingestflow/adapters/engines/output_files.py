"""The engine's side of the output folder: where an output goes, putting it there, and whether
the folder can be written at all, each failure as one readable line naming the path.

Where: `ingestflow.domain.outputs.output_relpath` (collision-free, long names shortened); a key
whose output path would exceed the OS path limit is refused (terminal, never retried).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from ingestflow.domain.errors import (
    FileProcessingError,
    IngestflowError,
    InvalidKeyError,
    TerminalError,
    TransientError,
)
from ingestflow.domain.keys import validate_key
from ingestflow.domain.outputs import PATH_MAX, OutputPathError, output_relpath

# Errors an operator fixes in the output folder (permissions, a file in the way, a full disk):
# worth retrying after a backoff, unlike a name the file system can never hold.
_NEVER_FITS = (errno.ENAMETOOLONG,)


class OutputFolderError(IngestflowError):
    """The output folder cannot be used at all (not a folder, not writable). One line."""


def room_for(output_root: Path) -> int:
    """Bytes left for `<workflow>/<mapped key>` under `output_root`: PATH_MAX counts the
    terminating NUL, and the separator after the root takes one more byte."""
    return PATH_MAX - len(str(output_root).encode("utf-8")) - 2


def output_path(output_root: Path, workflow: str, key: str) -> Path:
    """Where the output of `key` goes. TerminalError when no legal path exists for it (or the
    key breaks the key rules: a '..' segment would write outside the workflow's folder)."""
    try:
        validate_key(key)
    except InvalidKeyError as exc:
        raise TerminalError(f"refused: {exc}") from None
    try:
        return output_root / output_relpath(workflow, key, room_for(output_root))
    except OutputPathError as exc:
        raise TerminalError(f"refused: no output path for {key}: {exc}") from None


def _in_the_way(path: Path) -> Path | None:
    """The nearest of `path` and its parents that exists but is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return None
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def write_error(target: Path, exc: OSError) -> FileProcessingError:
    """The file error for an OSError met while writing `target`: one line, path and problem."""
    problem = exc.strerror or str(exc)
    if isinstance(exc, FileExistsError | NotADirectoryError):
        blocker = _in_the_way(target.parent)
        if blocker is not None:
            problem = f"a file is in the way where a folder must be ({blocker})"
    message = f"cannot write output {target}: {problem}"
    if exc.errno in _NEVER_FITS:
        return TerminalError(message)
    return TransientError(message)


def place(part: Path, target: Path) -> None:
    """Move the finished temporary file `part` to `target` (atomic rename), creating folders.
    Raises FileProcessingError (see `write_error`)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise write_error(target, exc) from None


def check_writable(folder: Path, what: str = "output folder") -> None:
    """Create `folder` if needed and prove a file can be created in it, or raise
    OutputFolderError: "output folder /x is not writable: Permission denied"."""
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{what} {folder} is not a folder")
    probe = folder / f".ingestflow-probe-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        blocker = _in_the_way(folder)
        if isinstance(exc, FileExistsError | NotADirectoryError) and blocker is not None:
            raise OutputFolderError(f"{what} {folder}: {blocker} is not a folder") from None
        raise OutputFolderError(f"{what} {folder} is not writable: {exc.strerror}") from None


def temporary_folder(
    tmp_root: Path, owner: str | None, owner_is_dead: Callable[[str], bool] | None
) -> Path:
    """This process's own, empty temporary folder under `tmp_root` (outputs are renamed out of
    it, so several processes can share one output root); leftovers of dead owners are cleared.
    Raises OutputFolderError when it cannot be written (the output folder is checked first)."""
    check_writable(tmp_root.parent)
    tmp = tmp_root / (owner or f"engine-{uuid.uuid4().hex}").replace(":", "-")
    shutil.rmtree(tmp, ignore_errors=True)
    if owner_is_dead is not None and tmp_root.is_dir():
        for leftover in tmp_root.iterdir():
            host, _, pid = leftover.name.rpartition("-")
            if owner_is_dead(f"{host}:{pid}"):
                shutil.rmtree(leftover, ignore_errors=True)
    check_writable(tmp, "temporary folder")
    return tmp
