"""Discovery whose listings carry the registrations they wrote, read back from the ledger's
change stream: `StatusStore.register` returns only how many it wrote, and these tests check
which files they were."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ingestflow.domain.records import Transition
from ingestflow.ports import StatusStore
from ingestflow.services.discovery import Discovery, Listing

REGISTRATIONS = ("registered", "re-uploaded")


def stream_end(store: StatusStore) -> int:
    """The id of the last transition in the change stream (0 when empty)."""
    last = 0
    while page := store.transitions_after(last, limit=1000):
        last = page[-1].id
    return last


@dataclass
class Seen:
    """A Listing, with `registered` as the registrations it wrote (not their number)."""

    listing: Listing
    registered: list[Transition]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.listing, name)


class Watched:
    """Wraps a real Discovery; each call reads the change stream where the last one stopped."""

    def __init__(self, finder: Discovery) -> None:
        self.finder = finder
        self.objects = finder.objects

    def reconcile(self, now: float) -> Seen:
        return self._watch(lambda: self.finder.reconcile(now))

    def register_keys(self, announced: Iterable[str], now: float) -> Seen:
        return self._watch(lambda: self.finder.register_keys(announced, now))

    def _watch(self, call: Callable[[], Listing]) -> Seen:
        store = self.finder.store
        last = stream_end(store)
        listing = call()
        written = store.transitions_after(last, limit=100_000)
        changes = [t for t in written if t.reason in REGISTRATIONS]
        assert listing.registered == len(changes), (listing.registered, changes)
        return Seen(listing, changes)
