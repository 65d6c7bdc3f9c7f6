"""The composition root: the one place that turns Settings into adapters and a Pipeline."""

from __future__ import annotations

from ingestflow.adapters.engines.duckdb import DuckDBEngine
from ingestflow.adapters.events.watcher import FolderWatcher
from ingestflow.adapters.processes import is_dead_local_owner, owner_id
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.local import LocalObjectStore
from ingestflow.config.settings import Settings
from ingestflow.ports import EventSource, StatusStore
from ingestflow.services.discovery import Discovery
from ingestflow.services.pipeline import Pipeline


def open_store(settings: Settings) -> StatusStore:
    """The ledger named by `[ledger] url`, with the configured workflows synced into it."""
    store = SqliteStatusStore(settings.ledger_path)
    store.sync_workflows(settings.workflows)
    return store


def build_pipeline(settings: Settings, *, watch: bool = False) -> Pipeline:
    settings.landing_path.mkdir(parents=True, exist_ok=True)
    settings.output_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    objects = LocalObjectStore(settings.landing_path, settings.landing_bucket)
    engine = DuckDBEngine(
        settings.landing_path,
        settings.output_path,
        threads=settings.engine_threads,
        memory_limit=settings.engine_memory_limit,
        compression=settings.output_compression,
        owner=owner_id(),
        owner_is_dead=is_dead_local_owner,
    )
    events: EventSource | None = None
    if watch and settings.watch:
        events = FolderWatcher(settings.landing_path)
    return Pipeline(
        store=store,
        discovery=Discovery(store, objects, settings.workflows, settings.settle),
        engine=engine,
        workflows=settings.workflows,
        specs={w.name: settings.spec_for(w) for w in settings.workflows},
        owner=owner_id(),
        schedule_interval=settings.schedule_interval,
        events=events,
        owner_is_dead=is_dead_local_owner,
    )
