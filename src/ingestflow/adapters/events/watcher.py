"""FolderWatcher: object-created events from the file system (watchdog).

Only "file closed after writing" and "moved into place" count as arrivals, so a file still being
written is not announced. Events are hints: the reconciliation listing is the safety net.
"""

from __future__ import annotations

import contextlib
import queue
from pathlib import Path

from watchdog.events import FileClosedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, sink: queue.Queue[str]) -> None:
        self._root = root.resolve()
        self._sink = sink

    def _put(self, path: str | bytes) -> None:
        text = path.decode() if isinstance(path, bytes) else path
        with contextlib.suppress(ValueError):  # outside the root: not ours
            self._sink.put(Path(text).resolve().relative_to(self._root).as_posix())

    def on_closed(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent) and not event.is_directory:
            self._put(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            self._put(event.dest_path)


class FolderWatcher:
    """EventSource over a local folder (recursive)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._queue: queue.Queue[str] = queue.Queue()
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def start(self) -> None:
        observer = Observer()
        observer.schedule(_Handler(self.root, self._queue), str(self.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def drain(self, timeout: float) -> list[str]:
        keys: list[str] = []
        try:
            keys.append(self._queue.get(timeout=max(0.0, timeout)))
            while True:
                keys.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return keys

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
