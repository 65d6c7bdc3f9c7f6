"""The composition root: the one place that turns Settings into adapters and a Pipeline."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from ingestflow.adapters.processes import is_dead_local_owner, owner_id
from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.adapters.storage.local import LocalObjectStore
from ingestflow.config.secrets import Secret, read_secret
from ingestflow.config.settings import Settings
from ingestflow.domain.errors import IngestflowError
from ingestflow.ports import Engine, EventSource, ObjectStore, QueryRows, StatusStore, Wakeup
from ingestflow.services.discovery import Discovery
from ingestflow.services.pipeline import Pipeline


def open_store(settings: Settings, *, read_only: bool = False, setup: bool = False) -> StatusStore:
    """The ledger named by `[ledger] url`, with the configured workflows synced into it.
    `read_only` (for commands that only read: status, files, history, ...) opens an existing
    ledger without writing to it, so those commands also work on a ledger the user may only
    read; a ledger that does not exist yet is created (empty) as usual. `setup` (`ingestflow
    setup`): also create a DynamoDB ledger's tables when missing (the other ledgers create
    or migrate their schema whenever they are opened)."""
    if settings.ledger_kind == "dynamodb":
        from ingestflow.bootstrap_aws import dynamodb_store

        store: StatusStore = dynamodb_store(settings, setup=setup)
        try:
            store.sync_workflows(settings.workflows)
        except BaseException:
            store.close()
            raise
        return store
    if settings.ledger_kind == "postgresql":
        store = _postgres_store(settings)
        store.sync_workflows(settings.workflows)
        return store
    if read_only and settings.ledger_path.exists():
        store = SqliteStatusStore(settings.ledger_path, read_only=True)
        if store.has_schema():
            return store
        # A ledger another process is creating right now (its file exists, its tables are
        # not committed yet): open it as a writer would, which waits for that process.
        store.close()
    store = SqliteStatusStore(settings.ledger_path)
    store.sync_workflows(settings.workflows)
    return store


def _postgres_store(settings: Settings, environ: Mapping[str, str] | None = None) -> StatusStore:
    """The PostgreSQL ledger (the `postgres` extra). The password comes from the variable
    named by `[ledger] password_env`, else libpq's own PGPASSWORD / ~/.pgpass."""
    try:
        from ingestflow.adapters.state.postgres import PostgresStatusStore
    except ImportError as exc:
        raise IngestflowError(
            "the PostgreSQL ledger needs the postgres extra: pip install 'ingestflow[postgres]'"
            f" ({exc})"
        ) from None
    password = _ledger_password(settings, environ)
    return PostgresStatusStore(settings.ledger_url, password, max_size=settings.ledger_pool_size)


def _ledger_password(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The password from `[ledger] password_env`, `password_ssm` or `password_secret` (AWS
    stores read once per process); None: libpq's PGPASSWORD / ~/.pgpass."""
    ref = settings.ledger_password
    if ref is None or ref.source == "env":
        name = ref.name if ref is not None else settings.ledger_password_env
        if name is None:
            return None
        environ = os.environ if environ is None else environ
        return read_secret("ledger.password_env", name, None, environ)
    from ingestflow.adapters.secrets import resolve_secret

    return resolve_secret(ref, environ)


def _wakeup(settings: Settings, role: str) -> Wakeup | None:
    """Workers on a PostgreSQL ledger wake on its notifications (LISTEN/NOTIFY)."""
    if settings.ledger_kind != "postgresql" or role == "discover":
        return None
    from ingestflow.adapters.state.postgres_wakeup import PostgresWakeup

    return PostgresWakeup(settings.ledger_url, _ledger_password(settings))


def open_query(settings: Settings, sql: str) -> AbstractContextManager[QueryRows]:
    """`sql` over the configured outputs, each workflow's outputs a table (`ingestflow query`):
    DuckDB over the local output folder, or over the S3 output URL through pyarrow. Chosen
    here so entrypoints never import a query adapter."""
    if settings.output_url is not None:
        from ingestflow.bootstrap_aws import s3_query

        return s3_query(settings, sql)
    from ingestflow.adapters.engines.duckdb_query import open_query as duckdb_query

    return duckdb_query(settings.output_path, [w.name for w in settings.workflows], sql)


def _folder(path: Path, what: str) -> None:
    """Create `path` if needed; one readable line when it cannot be a folder."""
    if path.exists() and not path.is_dir():
        raise IngestflowError(f"{what} {path} is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IngestflowError(f"cannot create {what} {path}: {exc.strerror or exc}") from None


def landing_store(settings: Settings) -> ObjectStore:
    """The landing area discovery lists: the local folder, or the S3 landing URL."""
    if settings.landing_url is not None:
        from ingestflow.bootstrap_aws import s3_store

        return s3_store(settings.landing_url)
    return LocalObjectStore(
        settings.landing_path, settings.landing_bucket, follow_symlinks=settings.follow_symlinks
    )


def build_engine(settings: Settings) -> Engine:
    """The engine of `[engine] name` (imported here: commands that only read the ledger start
    faster without DuckDB, pyarrow or pyspark). A local engine on an S3 landing or output is
    staged (`adapters/engines/staged.py`): each batch is downloaded to, and its outputs
    uploaded from, a private temporary folder."""
    if settings.engine == "stepfunctions":
        from ingestflow.bootstrap_aws import stepfunctions_engine

        return stepfunctions_engine(settings)
    if settings.landing_url is not None or settings.output_url is not None:
        from ingestflow.bootstrap_aws import staged_engine

        return staged_engine(
            settings, lambda landing, output: _local_engine(settings, landing, output)
        )
    return _local_engine(settings, settings.landing_path, settings.output_path)


def _local_engine(settings: Settings, landing: Path, output: Path) -> Engine:
    """The DuckDB or Spark engine on local folders."""
    if settings.engine == "spark":
        from ingestflow.adapters.engines.spark import SparkEngine

        return SparkEngine(
            landing,
            output,
            master=settings.engine_master,
            conf=settings.engine_conf,
            compression=settings.output_compression,
            owner=owner_id(),
            owner_is_dead=is_dead_local_owner,
            follow_symlinks=settings.follow_symlinks,
        )
    from ingestflow.adapters.engines.duckdb import DuckDBEngine

    return DuckDBEngine(
        landing,
        output,
        threads=settings.engine_threads,
        memory_limit=settings.engine_memory_limit,
        compression=settings.output_compression,
        owner=owner_id(),
        owner_is_dead=is_dead_local_owner,
        follow_symlinks=settings.follow_symlinks,
    )


def build_pipeline(settings: Settings, *, watch: bool = False, role: str = "all") -> Pipeline:
    # The engine (DuckDB, pyarrow) is imported here, not at module level: commands that only
    # read the ledger start faster and smaller without it.
    from ingestflow.adapters.engines.output_files import room_for

    if settings.landing_url is None:
        _folder(settings.landing_path, "landing folder")
    if settings.output_url is None:
        _folder(settings.output_path, "output folder")
    objects = landing_store(settings)
    store = open_store(settings)
    try:
        engine = build_engine(settings)
    except BaseException:
        store.close()
        raise
    try:
        events = _events(settings) if watch and settings.watch and role != "work" else None
        wakeup = _wakeup(settings, role) if watch else None
    except BaseException:
        engine.close()
        store.close()
        raise
    return Pipeline(
        store=store,
        discovery=Discovery(
            store,
            objects,
            settings.workflows,
            settings.settle,
            max_output_path=_output_room(settings, room_for),
        ),
        engine=engine,
        workflows=settings.workflows,
        specs={w.name: settings.spec_for(w) for w in settings.workflows},
        owner=owner_id(),
        schedule_interval=settings.schedule_interval,
        events=events,
        owner_is_dead=is_dead_local_owner,
        reconcile_interval=settings.reconcile_interval,
        role=role,
        wakeup=wakeup,
    )


def _events(settings: Settings) -> EventSource | None:
    """Landing notifications: the SQS queue of an S3 landing (none without one: the listing
    runs every tick), else the folder watcher."""
    if settings.landing_queue_url is not None:
        from ingestflow.bootstrap_aws import sqs_events

        return sqs_events(settings)
    if settings.landing_url is not None:
        return None
    from ingestflow.adapters.events.watcher import FolderWatcher  # watchdog: local folders only

    return FolderWatcher(settings.landing_path, settle=settings.settle)


def _output_room(settings: Settings, room_for: Callable[[Path], int]) -> int:
    """What discovery allows for `<workflow>/<mapped key>`: the OS path limit under a local
    output folder, S3's 1,024-byte key limit under an S3 output prefix."""
    if settings.output_url is None:
        return room_for(settings.output_path)
    from ingestflow.bootstrap_aws import s3_output_room

    return s3_output_room(settings)
