"""The dashboard's window of ended files, kept up to date from the ledger's change stream.

The first `snapshot()` reads the window's `-> DONE`/`-> FAILED` transitions page by page
(`ended_between`, id order); later ones read only the transitions after the last id seen, so
an overview refresh costs what changed since the previous one. Transitions stamped up to a
window ahead of this machine's clock (another machine's clock) are read too, so none is
skipped when later ids are. Thread-safe: the server's worker threads share one feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ingestflow.domain.activity import HOUR, Activity, ActivitySnapshot
from ingestflow.domain.metrics import MetricsContext, file_metrics
from ingestflow.ports import StatusStore

PAGE = 10_000  # transitions per ledger read


class ActivityFeed:
    def __init__(
        self,
        store: StatusStore,
        context: MetricsContext,
        window_hours: int = 24,
        clock: Callable[[], float] = time.time,
        page: int = PAGE,
    ) -> None:
        self._store = store
        self._context = context
        self._activity = Activity(window_hours)
        self._clock = clock
        self._page = page
        self._after = 0
        self._lock = threading.Lock()

    def snapshot(self) -> ActivitySnapshot:
        with self._lock:
            now = self._clock()
            window = self._activity.window_hours * HOUR
            start, end = now - window, now + window
            while True:
                found = self._store.ended_between(start, end, self._after, self._page)
                for t in found:
                    metrics = file_metrics(t, self._context)
                    if metrics is not None:
                        self._activity.add(t, metrics)
                if found:
                    self._after = found[-1].id
                if len(found) < self._page:
                    break
            return self._activity.snapshot(now)
