"""LocalObjectStore: a folder as the landing store.

Symbolic-link policy (nothing outside the landing root is ever read): by default a symlink — to
a file or to a folder, anywhere under the root — is not an object. It is listed with a `refused`
reason (discovery shows it as unrouted) and never registered or read. With `follow_symlinks`,
a link is followed only when its target resolves inside the landing root; a link leading outside
(or a broken one) is still refused. The engine checks the same rule again when it opens a file,
so a file swapped for a symlink after registration is not read either.
"""

from __future__ import annotations

import os
import stat as stat_mode
from collections.abc import Iterator
from pathlib import Path

from ingestflow.domain.records import ObjectInfo

LINK_REFUSED = (
    "symbolic link: not followed (set [landing] follow_symlinks = true to follow links "
    "whose target is inside the landing folder)"
)
LINK_OUTSIDE = "symbolic link to a target outside the landing folder: never read"
LINK_BROKEN = "broken symbolic link"


def relative_key(root: Path, path: str | Path) -> str | None:
    """The '/'-separated key of `path` under `root` (both absolute; links in `path` are NOT
    resolved, so a link's key is its own name), or None when outside it."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == "." or rel.startswith(".." + os.sep) or rel == ".." or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    # size + mtime_ns identify a local file's content version, like an S3 etag.
    return ObjectInfo(key, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime)


def link_problem(root: Path, path: Path, follow_symlinks: bool) -> str | None:
    """Why `path` (under the resolved `root`) must not be read because of a symlink on the way,
    or None when it is safe. Checks every component below the root, not only the last."""
    try:
        rel_parts = path.relative_to(root).parts
    except ValueError:
        return LINK_OUTSIDE
    current = root
    linked = False
    for part in rel_parts:
        current = current / part
        try:
            if stat_mode.S_ISLNK(os.lstat(current).st_mode):
                linked = True
                break
        except FileNotFoundError:
            return None  # gone: the caller reports it as missing
    if not linked:
        return None
    if not follow_symlinks:
        return LINK_REFUSED
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return LINK_BROKEN
    if not target.is_relative_to(root):
        return LINK_OUTSIDE
    return None


class LocalObjectStore:
    """Keys are paths relative to `root`, '/'-separated; hidden folders (such as
    `.ingestflow-tmp`) are skipped; symbolic links follow the policy in the module docstring."""

    def __init__(
        self, root: Path, bucket: str | None = None, *, follow_symlinks: bool = False
    ) -> None:
        self.root = Path(root).resolve()
        self.bucket = bucket or self.root.name or "landing"
        self.follow_symlinks = follow_symlinks

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r}, bucket={self.bucket!r})"

    def key_for(self, path: str | Path) -> str | None:
        """The key of an absolute path under root, or None when it lies outside."""
        return relative_key(self.root, path)

    def path_for(self, key: str) -> Path:
        return self.root / key

    def list(self) -> Iterator[ObjectInfo]:
        """Every object under the root; refused entries (links) come with `refused` set."""
        yield from self._walk(str(self.root), "", {str(self.root)})

    def _walk(self, folder: str, prefix: str, visited: set[str]) -> Iterator[ObjectInfo]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return  # vanished or unreadable folder: the next listing tries again
        for entry in entries:
            key = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    yield from self._link(entry, key, visited)
                elif entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        yield from self._walk(entry.path, f"{key}/", visited)
                elif entry.is_file(follow_symlinks=False):
                    yield _info(key, entry.stat(follow_symlinks=False))
            except OSError:
                continue  # vanished between listing and stat

    def _link(self, entry: os.DirEntry[str], key: str, visited: set[str]) -> Iterator[ObjectInfo]:
        if entry.name.startswith("."):
            return
        problem = link_problem(self.root, Path(entry.path), self.follow_symlinks)
        if problem is not None:
            yield ObjectInfo(key, 0, "", 0.0, refused=problem)
            return
        target = os.path.realpath(entry.path)
        if os.path.isdir(target):
            if target not in visited:  # a link to an ancestor would loop forever
                yield from self._walk(entry.path, f"{key}/", {*visited, target})
        elif os.path.isfile(target):
            yield _info(key, os.stat(target))

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's current version, None when it is gone (or not a file), and an info
        with `refused` set when a symlink on its path breaks the policy."""
        path = self.root / key
        problem = link_problem(self.root, path, self.follow_symlinks)
        if problem is not None:
            return ObjectInfo(key, 0, "", 0.0, refused=problem)
        try:
            st = os.stat(path)
        except OSError:
            return None
        return _info(key, st) if stat_mode.S_ISREG(st.st_mode) else None
