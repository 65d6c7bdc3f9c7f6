"""Registering landing files in the ledger: from events and from reconciliation listings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ingestflow.domain import keys
from ingestflow.domain.errors import InvalidKeyError
from ingestflow.domain.records import ObjectInfo, Transition, UnroutedFile
from ingestflow.domain.workflow import Workflow, route
from ingestflow.ports import ObjectStore, StatusStore


@dataclass
class Listing:
    """What one reconciliation pass saw."""

    registered: list[Transition] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    unrouted: list[UnroutedFile] = field(default_factory=list)


class Discovery:
    """Routes landing objects to workflows and registers them. Remembers what it registered so a
    listing of a large landing area does not rewrite the ledger every tick."""

    def __init__(
        self,
        store: StatusStore,
        objects: ObjectStore,
        workflows: Sequence[Workflow],
        settle: float,
    ) -> None:
        self.store = store
        self.objects = objects
        self.workflows = tuple(workflows)
        self.settle = settle
        self._seen: dict[str, str] = {}

    def _classify(
        self, infos: Iterable[ObjectInfo], now: float, listing: Listing, *, settled: bool
    ) -> list[tuple[ObjectInfo, str]]:
        todo: list[tuple[ObjectInfo, str]] = []
        for info in infos:
            if keys.is_temporary(info.key) or self._seen.get(info.key) == info.etag:
                continue
            try:
                keys.validate_key(info.key)
            except InvalidKeyError as exc:
                listing.unrouted.append(UnroutedFile(info.key, info.size, now, str(exc)))
                continue
            workflow, reason = route(info.key, self.workflows)
            if workflow is None:
                listing.unrouted.append(UnroutedFile(info.key, info.size, now, reason))
                continue
            if not settled and now - info.mtime < self.settle:
                listing.unsettled.append(info.key)  # maybe still being written
                continue
            # A future mtime (clock skew) must not push the upload time past now.
            upload = min(info.mtime, now)
            todo.append((ObjectInfo(info.key, info.size, info.etag, upload), workflow.name))
        return todo

    def _register(self, todo: list[tuple[ObjectInfo, str]], now: float, listing: Listing) -> None:
        for start in range(0, len(todo), 5000):
            chunk = todo[start : start + 5000]
            listing.registered += self.store.register(self.objects.bucket, chunk, now)
            for info, _ in chunk:
                self._seen[info.key] = info.etag

    def reconcile(self, now: float) -> Listing:
        """List the whole landing store; register settled, routed files; record unrouted ones."""
        listing = Listing()
        todo = self._classify(self.objects.list(), now, listing, settled=False)
        self._register(todo, now, listing)
        self.store.set_unrouted(listing.unrouted)
        return listing

    def register_keys(self, announced: Iterable[str], now: float) -> Listing:
        """Register keys announced by events as complete (e.g. closed after writing)."""
        listing = Listing()
        infos = [i for i in (self.objects.stat(k) for k in dict.fromkeys(announced)) if i]
        todo = self._classify(infos, now, listing, settled=True)
        self._register(todo, now, listing)
        return listing
