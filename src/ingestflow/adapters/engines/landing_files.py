"""Opening landing files for an engine without ever reading outside the landing root.

The policy, applied at open time (the listing and the watcher apply it too, but a file can be
swapped for a link after it was registered):

- `follow_symlinks = False` (default): the key is opened one path segment at a time from the
  landing root, every segment with O_NOFOLLOW, so neither the file nor any folder on the way can
  be a symbolic link. A link is refused (terminal) with a hint naming the setting.
- `follow_symlinks = True`: links are followed, but the file actually opened must lie inside the
  resolved landing root (checked on the open descriptor, not on a path that could change);
  otherwise it is refused (terminal).
- Only regular files are read: a FIFO, a device or a folder is refused (and a FIFO never blocks
  the open).

A refusal is decided before a single byte is read, so no content from outside the root can reach
an error message. Engines read through the verified descriptor: `reader_path` names it as
`/proc/self/fd/N` where the platform has it (the reader then opens exactly the inode that was
checked, whatever happens to the path meanwhile); elsewhere it returns the verified real path,
re-checked against the descriptor just before the read.

POSIX only (openat, O_NOFOLLOW).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ingestflow.domain.errors import InvalidKeyError, TerminalError, TransientError
from ingestflow.domain.keys import validate_key

_HINT = "(set [landing] follow_symlinks = true to follow links inside the landing folder)"
_PROC_FD = Path("/proc/self/fd")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC


def _refuse_link(key: str, folder: str | None) -> TerminalError:
    via = f" (through the folder {folder})" if folder else ""
    return TerminalError(f"refused: {key} is a symbolic link{via} {_HINT}")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class LandingFiles:
    """Opens landing keys under `root` for reading, following the policy in the module doc."""

    def __init__(self, root: Path, *, follow_symlinks: bool = False) -> None:
        self.root = Path(root)
        self.follow_symlinks = follow_symlinks

    def open(self, key: str) -> int:
        """A descriptor open for reading on the regular file `key` (the caller closes it).

        Raises TerminalError when the policy refuses the file (or the key breaks the key rules:
        a '..' segment must never walk out of the root); OSError when it cannot be opened
        (FileNotFoundError when it is gone)."""
        try:
            validate_key(key)
        except InvalidKeyError as exc:
            raise TerminalError(f"refused: {exc}") from None
        fd = self._open_following(key) if self.follow_symlinks else self._open_no_links(key)
        try:
            if self.follow_symlinks:
                self._check_inside(fd, key)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TerminalError(f"refused: {key} is not a regular file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_no_links(self, key: str) -> int:
        parts = key.split("/")
        dir_fd = os.open(self.root, _DIR_FLAGS)  # the configured root itself may be a link
        try:
            for i, part in enumerate(parts[:-1]):
                try:
                    next_fd = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
                except OSError:
                    if _is_link(part, dir_fd):
                        raise _refuse_link(key, "/".join(parts[: i + 1])) from None
                    raise
                os.close(dir_fd)
                dir_fd = next_fd
            try:
                return os.open(parts[-1], _FILE_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                if _is_link(parts[-1], dir_fd):
                    raise _refuse_link(key, None) from None
                raise
        finally:
            os.close(dir_fd)

    def _open_following(self, key: str) -> int:
        return os.open(self.root / key, _FILE_FLAGS)

    def _check_inside(self, fd: int, key: str) -> None:
        """The opened file (not whatever the path names now) must be inside the root."""
        root = os.path.realpath(self.root)
        if _PROC_FD.is_dir():
            opened = os.readlink(_PROC_FD / str(fd))
        else:
            opened = os.path.realpath(self.root / key)
            _same_file(fd, opened, key)
        if not _inside(opened, root):
            raise TerminalError(f"refused: {key} links outside the landing folder")

    def reader_path(self, fd: int, key: str) -> str:
        """A path through which another library (DuckDB) reads exactly the file open on `fd`.

        Call it right before the read; TransientError when the file changed since it was
        opened (only on platforms without /proc/self/fd)."""
        if _PROC_FD.is_dir():
            return f"{_PROC_FD}/{fd}"
        real = os.path.realpath(self.root / key)
        _same_file(fd, real, key)
        return real


def open_file_budget() -> int:
    """Input files one multi-file read may hold open: a quarter of the descriptor limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 250
    return max(4, soft // 4) if soft > 0 else 250


def _same_file(fd: int, path: str, key: str) -> None:
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise TransientError(f"{key} was replaced while it was being opened") from None
        raise
    opened = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (opened.st_dev, opened.st_ino):
        raise TransientError(f"{key} was replaced while it was being opened")
