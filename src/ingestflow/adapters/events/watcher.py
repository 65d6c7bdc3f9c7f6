"""FolderWatcher: object-created events from the file system (watchdog).

A file counts as arrived when its writer closes it, when it is renamed into place, or — for a
file that appears with no write ever seen (moved in from another folder, or created inside a
folder so new that its events were missed) — `quiet` seconds after it appeared. Events
are hints: the reconciliation listing is the safety net for anything missed here.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ingestflow.adapters.storage.local import relative_key


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, sink: queue.Queue[str]) -> None:
        self._root = root.resolve()
        self._sink = sink
        self._lock = threading.Lock()
        self.pending: dict[str, float] = {}  # created, no write seen yet: key -> when

    def _key(self, path: str | bytes) -> str | None:
        return relative_key(self._root, path.decode() if isinstance(path, bytes) else path)

    def _announce(self, path: str | bytes) -> None:
        key = self._key(path)
        if key is not None:
            with self._lock:
                self.pending.pop(key, None)
            self._sink.put(key)

    def on_created(self, event: FileSystemEvent) -> None:
        key = self._key(event.src_path)
        if isinstance(event, FileCreatedEvent) and key is not None:
            with self._lock:
                self.pending[key] = time.monotonic()

    def on_modified(self, event: FileSystemEvent) -> None:
        key = self._key(event.src_path)
        if isinstance(event, FileModifiedEvent) and key is not None:
            with self._lock:
                # A writer is at work: wait for its close event, never for quiet.
                self.pending.pop(key, None)

    def on_closed(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent) and not event.is_directory:
            self._announce(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            source = self._key(event.src_path)
            with self._lock:
                self.pending.pop(source or "", None)
            self._announce(event.dest_path)

    def quiet_since(self, cutoff: float) -> list[str]:
        """Created files with no activity since `cutoff` (no writer seen): taken as arrived."""
        with self._lock:
            keys = [k for k, seen in self.pending.items() if seen <= cutoff]
            for key in keys:
                del self.pending[key]
        return keys


class FolderWatcher:
    """EventSource over a local folder (recursive)."""

    def __init__(self, root: Path, quiet: float = 0.5) -> None:
        self.root = Path(root)
        self.quiet = quiet
        self._queue: queue.Queue[str] = queue.Queue()
        self._handler = _Handler(self.root, self._queue)
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def start(self) -> None:
        observer = Observer()
        observer.schedule(self._handler, str(self.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def drain(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + max(0.0, timeout)
        keys: list[str] = []
        while True:
            keys += self._handler.quiet_since(time.monotonic() - self.quiet)
            try:
                wait = min(0.1, max(0.0, deadline - time.monotonic()))
                keys.append(self._queue.get(timeout=wait))
                while True:
                    keys.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            if keys or time.monotonic() >= deadline:
                return list(dict.fromkeys(keys))

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
