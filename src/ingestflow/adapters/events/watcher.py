"""FolderWatcher: object-created events from the file system (watchdog).

A file counts as arrived when it is renamed into place; when its writer closed it and nothing
wrote to it for `settle` seconds since (log shippers reopen a file to append: each close is not
an arrival); or — for a file that appears with no write ever seen (moved in from another
folder, or created inside a folder so new that its events were missed) — `quiet` seconds after
it appeared. Paths are not resolved: a symbolic link is announced under its own key and the
landing store's policy decides whether it is read. Events are hints: the reconciliation listing
is the safety net for anything missed here.
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
        self._root = root
        self._sink = sink
        self._lock = threading.Lock()
        self.pending: dict[str, float] = {}  # created, no write seen yet: key -> when
        self.closed: dict[str, float] = {}  # closed after writing: key -> when

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
                self.closed.pop(key, None)

    def on_closed(self, event: FileSystemEvent) -> None:
        key = self._key(event.src_path)
        if isinstance(event, FileClosedEvent) and not event.is_directory and key is not None:
            with self._lock:
                self.pending.pop(key, None)
                self.closed[key] = time.monotonic()

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            source = self._key(event.src_path)
            with self._lock:
                self.pending.pop(source or "", None)
                self.closed.pop(source or "", None)
                self.closed.pop(self._key(event.dest_path) or "", None)
            self._announce(event.dest_path)

    def quiet_since(self, cutoff: float, settled_cutoff: float) -> list[str]:
        """Created files with no activity since `cutoff` (no writer seen), and closed files
        not written to since `settled_cutoff`: taken as arrived."""
        with self._lock:
            keys = [k for k, seen in self.pending.items() if seen <= cutoff]
            for key in keys:
                del self.pending[key]
            closed = [k for k, seen in self.closed.items() if seen <= settled_cutoff]
            for key in closed:
                del self.closed[key]
        return keys + closed


class FolderWatcher:
    """EventSource over a local folder (recursive)."""

    def __init__(self, root: Path, quiet: float = 0.5, settle: float = 0.0) -> None:
        self.root = Path(root).resolve()
        self.quiet = quiet
        self.settle = settle
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
            at = time.monotonic()
            keys += self._handler.quiet_since(at - self.quiet, at - self.settle)
            try:
                wait = min(0.1, max(0.0, deadline - time.monotonic()))
                keys.append(self._queue.get(timeout=wait))
                while True:
                    keys.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            if keys or time.monotonic() >= deadline:
                return list(dict.fromkeys(keys))

    def ack(self) -> None:
        """Nothing to acknowledge: file system events are not redelivered."""

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
