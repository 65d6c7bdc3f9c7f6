"""LocalObjectStore: a folder as the landing store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ingestflow.domain.records import ObjectInfo


def relative_key(root: Path, path: str | Path) -> str | None:
    """The '/'-separated key of `path` under the resolved `root`, or None when outside it."""
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    # size + mtime_ns identify a local file's content version, like an S3 etag.
    return ObjectInfo(key, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime)


class LocalObjectStore:
    """Keys are paths relative to `root`, '/'-separated. Symbolic links to files are followed;
    hidden folders (such as `.ingestflow-tmp`) are skipped."""

    def __init__(self, root: Path, bucket: str | None = None) -> None:
        self.root = Path(root)
        self.bucket = bucket or self.root.resolve().name or "landing"

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r}, bucket={self.bucket!r})"

    def key_for(self, path: str | Path) -> str | None:
        """The key of an absolute path under root, or None when it lies outside."""
        return relative_key(self.root.resolve(), path)

    def path_for(self, key: str) -> Path:
        return self.root / key

    def list(self) -> Iterator[ObjectInfo]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(filenames):
                key = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue  # vanished between listing and stat
                if os.path.isfile(os.path.join(dirpath, name)):
                    yield _info(key, st)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = os.stat(self.root / key)
        except OSError:
            return None
        return _info(key, st) if (self.root / key).is_file() else None
