"""The dashboard's window of ended files, kept up to date from the ledger's change stream.

The first `snapshot()` starts reading the window's `-> DONE`/`-> FAILED` transitions
(`ended_between`, one index range per page) in a background thread and waits for it at most
`wait` seconds: a small ledger's overview is complete at once, a large one's shows what was
read so far (`ActivitySnapshot.loading`) and fills in on the next refreshes. The change
stream's end is noted before that read; afterwards every snapshot adds only the transitions
after it (`transitions_after`), so a refresh costs what changed since the previous one and no
file is counted twice. Thread-safe: the server's worker threads share one feed.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from ingestflow.domain.activity import HOUR, Activity, ActivitySnapshot
from ingestflow.domain.metrics import MetricsContext, file_metrics
from ingestflow.domain.records import Transition
from ingestflow.ports import StatusStore

log = logging.getLogger(__name__)

PAGE = 10_000  # transitions per ledger read
WAIT = 2.0  # seconds the first snapshot waits for the window to be read


class ActivityFeed:
    def __init__(
        self,
        store: StatusStore,
        context: MetricsContext,
        window_hours: int = 24,
        clock: Callable[[], float] = time.time,
        page: int = PAGE,
        wait: float = WAIT,
    ) -> None:
        self._store = store
        self._context = context
        self._activity = Activity(window_hours)
        self._clock = clock
        self._page = page
        self._wait = wait
        self._checkpoint = 0  # the change stream's position the window has been read up to
        self._loaded = False
        self._waited = False
        self._loader: threading.Thread | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> ActivitySnapshot:
        """The window now; `loading` while the first read of the window is still running."""
        with self._lock:
            loader = self._loader
            if not self._loaded and (loader is None or not loader.is_alive()):
                loader = self._loader = threading.Thread(
                    target=self._load, name="ingestflow-dashboard-window", daemon=True
                )
                loader.start()
        if not self._loaded and not self._waited:
            assert loader is not None
            self._waited = True  # only the first snapshot waits; later ones show progress
            loader.join(self._wait)
        with self._lock:
            if self._loaded:
                self._follow()
            snapshot = self._activity.snapshot(self._clock())
        return dataclasses.replace(snapshot, loading=not self._loaded)

    def _add(self, transitions: list[Transition]) -> None:
        for t in transitions:
            metrics = file_metrics(t, self._context)
            if metrics is not None:
                self._activity.add(t, metrics)

    def _load(self) -> None:
        try:
            checkpoint = self._store.last_transition_id()
            now = self._clock()
            window = self._activity.window_hours * HOUR
            start, end = now - window, now + window  # ahead: another machine's clock
            after: tuple[float, int] | None = None
            while True:
                found = self._store.ended_between(start, end, after, self._page)
                with self._lock:
                    self._add([t for t in found if t.id <= checkpoint])
                if len(found) < self._page:
                    break
                after = (found[-1].at, found[-1].id)
            with self._lock:
                self._checkpoint = checkpoint
                self._loaded = True
        except Exception:
            log.warning("the dashboard could not read the ledger's window", exc_info=True)
            with self._lock:  # start over on the next snapshot: nothing counted twice
                self._activity = Activity(self._activity.window_hours)

    def _follow(self) -> None:
        """Add what the change stream holds after the checkpoint (under the lock)."""
        while True:
            found = self._store.transitions_after(self._checkpoint, self._page)
            self._add(found)
            if found:
                self._checkpoint = found[-1].id
            if len(found) < self._page:
                return
