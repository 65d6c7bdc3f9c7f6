"""Registering landing files in the ledger: from events and from reconciliation listings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ingestflow.domain import keys
from ingestflow.domain.errors import InvalidKeyError
from ingestflow.domain.markers import marker_workflow
from ingestflow.domain.outputs import PATH_MAX, output_relpath
from ingestflow.domain.records import ObjectInfo, UnroutedFile
from ingestflow.domain.workflow import Workflow, route
from ingestflow.ports import ObjectStore, StatusStore


@dataclass
class Listing:
    """What one reconciliation pass saw."""

    registered: int = 0  # status changes written (new files, re-uploads)
    unsettled: list[str] = field(default_factory=list)
    unrouted: list[UnroutedFile] = field(default_factory=list)
    markers: list[tuple[str, str]] = field(default_factory=list)


class Discovery:
    """Routes landing objects to workflows and registers them. Remembers what it registered so a
    listing of a large landing area does not rewrite the ledger every tick.

    A file is settled (complete enough to register from a listing) when its modification time is
    `settle` old, or when it was seen unchanged for `settle` seconds: the second rule takes files
    whose modification time lies in the future (clock skew) instead of ignoring them forever."""

    def __init__(
        self,
        store: StatusStore,
        objects: ObjectStore,
        workflows: Sequence[Workflow],
        settle: float,
        max_output_path: int = PATH_MAX,
    ) -> None:
        self.store = store
        self.objects = objects
        self.workflows = tuple(workflows)
        self.settle = settle
        self.max_output_path = max_output_path
        self._seen: dict[str, str] = {}
        self._first_seen: dict[str, tuple[str, float]] = {}  # unsettled: key -> (etag, when)

    def _settled(self, info: ObjectInfo, now: float) -> bool:
        if now - info.mtime >= self.settle:
            self._first_seen.pop(info.key, None)
            return True
        etag, since = self._first_seen.get(info.key, ("", now))
        if etag == info.etag and now - since >= self.settle:
            del self._first_seen[info.key]
            return True
        if etag != info.etag:
            self._first_seen[info.key] = (info.etag, now)
        return False

    def _unroutable(self, info: ObjectInfo) -> tuple[Workflow | None, str]:
        """The workflow taking the object, or None with the reason it is refused."""
        if info.refused is not None:
            return None, info.refused
        try:
            keys.validate_key(info.key)
        except InvalidKeyError as exc:
            return None, str(exc)
        workflow, reason = route(info.key, self.workflows)
        if workflow is None:
            return None, reason
        try:
            output_relpath(workflow.name, info.key, self.max_output_path)
        except InvalidKeyError as exc:
            return None, f"cannot be processed: {exc}"
        return workflow, ""

    def _classify(
        self, infos: Iterable[ObjectInfo], now: float, listing: Listing, *, settled: bool
    ) -> list[tuple[ObjectInfo, str]]:
        todo: list[tuple[ObjectInfo, str]] = []
        for info in infos:
            marked = marker_workflow(info.key, self.workflows) if info.refused is None else None
            if marked is not None:
                listing.markers.append((marked.name, keys.parent_prefix(info.key)))
                continue
            if keys.is_temporary(info.key) or self._seen.get(info.key) == info.etag:
                continue
            workflow, reason = self._unroutable(info)
            if workflow is None:
                listing.unrouted.append(UnroutedFile(info.key, info.size, now, reason))
                continue
            if not settled and not self._settled(info, now):
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
        """List the whole landing store; register settled, routed files; record unrouted files
        and the completeness markers present."""
        listing = Listing()
        todo = self._classify(self.objects.list(), now, listing, settled=False)
        # Markers first: files registered in this pass may be ready because of them.
        self.store.set_markers(self.objects.bucket, listing.markers)
        self._register(todo, now, listing)
        self.store.set_unrouted(listing.unrouted)
        listed = {info.key for info, _ in todo} | set(listing.unsettled)
        for key in [k for k in self._first_seen if k not in listed]:
            del self._first_seen[key]  # gone from the landing store
        return listing

    def register_keys(self, announced: Iterable[str], now: float) -> Listing:
        """Register keys announced by events as complete (e.g. renamed into place)."""
        listing = Listing()
        infos = [i for i in (self.objects.stat(k) for k in dict.fromkeys(announced)) if i]
        todo = self._classify(infos, now, listing, settled=True)
        if listing.markers:
            self.store.add_markers(self.objects.bucket, listing.markers)
        self._register(todo, now, listing)
        return listing
