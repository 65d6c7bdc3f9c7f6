"""The ledger adapters the contract suite runs against.

Each entry knows how to make a fresh, empty ledger location under a temporary folder and how to
open a `StatusStore` on a location. Opening is done by name and location only, so that separate
OS processes (see `_claim_worker.py`) can open their own store on the same ledger.

To put a new adapter under contract (DynamoDB on a moto server, ...), add one
`AdapterFactory` to `ADAPTERS`; every contract test then runs against it too.

"postgres" runs on one throwaway server per test session (tests/support/postgres_server.py:
Debian's binaries, started on first use, stopped at exit), a fresh schema per test. Without
PostgreSQL installed its tests fail (scripts/system-deps.sh installs it); they never skip.

"dynamodb" runs on one moto server per test session (tests/support/moto_server.py, its own,
never reset by the `aws_env` fixture), a fresh table prefix per test. Its location is
"<endpoint> <ledger url>", so a worker process opens a store on the same server without any
environment: the store itself only ever sees the ledger URL and a client.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.ports import StatusStore


@dataclass(frozen=True)
class AdapterFactory:
    name: str
    location: Callable[[Path], str]
    """A fresh, empty ledger location for one test (given that test's tmp_path)."""
    open: Callable[[str], StatusStore]
    """Open a store on a location; any number of stores (and processes) may share one."""
    race_files: int = 400
    """How many files the many-process claim race registers (fewer where each request is
    slow: moto's DynamoDB answers a Query in ~0.2 s; the race is the same)."""


def _open_sqlite(location: str) -> StatusStore:
    return SqliteStatusStore(location)


_POSTGRES: list[Any] = []  # the session's server (tests/support/postgres_server.py), once started


def _postgres_location(tmp_path: Path) -> str:
    """A fresh database on the session's server, started on first use and stopped at exit.
    PostgreSQL missing is an error, never a skip."""
    if not _POSTGRES:
        from postgres_server import PostgresServer  # tests/support, on pytest's pythonpath

        server = PostgresServer().start()
        atexit.register(server.stop)
        _POSTGRES.append(server)
    return str(_POSTGRES[0].new_database())


def _open_postgres(location: str) -> StatusStore:
    from ingestflow.adapters.state.postgres import PostgresStatusStore

    return PostgresStatusStore(location)


_MOTO: list[Any] = []  # the session's moto server for the DynamoDB ledger, once started


def _dynamodb_location(tmp_path: Path) -> str:
    import uuid

    if not _MOTO:
        from moto_server import MotoServer  # tests/support, on pytest's pythonpath

        server = MotoServer().start()
        atexit.register(server.stop)
        _MOTO.append(server)
    return f"{_MOTO[0].endpoint_url} dynamodb://t{uuid.uuid4().hex[:12]}?region=us-east-1"


def _open_dynamodb(location: str) -> StatusStore:
    import boto3
    from moto_server import ACCESS_KEY, REGION, SECRET_KEY

    from ingestflow.adapters.state.dynamodb import DynamoDBStatusStore

    endpoint, url = location.split(" ")
    client = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    ).client("dynamodb", endpoint_url=endpoint)
    refuse_scans(client)
    return DynamoDBStatusStore(url, client=client)


class ScanCalled(AssertionError):
    """The DynamoDB ledger called Scan: it must find everything by key or index Query."""


def refuse_scans(client: Any) -> None:
    """Make every Scan on `client` fail before it is sent, so the whole contract suite shows
    the DynamoDB ledger never scans a table (research aws.md §1)."""

    def refuse(**kwargs: Any) -> None:
        table = kwargs.get("params", {}).get("TableName", "?")
        raise ScanCalled(f"Scan of {table}: the DynamoDB ledger must never scan")

    client.meta.events.register("before-call.dynamodb.Scan", refuse)


ADAPTERS: tuple[AdapterFactory, ...] = (
    AdapterFactory(
        name="sqlite",
        location=lambda tmp_path: str(tmp_path / "ledger.db"),
        open=_open_sqlite,
    ),
    AdapterFactory(name="postgres", location=_postgres_location, open=_open_postgres),
    AdapterFactory(
        name="dynamodb", location=_dynamodb_location, open=_open_dynamodb, race_files=60
    ),
)


def adapter(name: str) -> AdapterFactory:
    for factory in ADAPTERS:
        if factory.name == name:
            return factory
    known = ", ".join(f.name for f in ADAPTERS)
    raise LookupError(f"unknown ledger adapter {name!r} (known: {known})")


class Ledger:
    """One empty ledger of one adapter. Opens as many stores on it as a test needs (several
    stores on one ledger behave like several processes) and closes them all at teardown."""

    def __init__(self, factory: AdapterFactory, location: str) -> None:
        self.adapter = factory.name
        self.race_files = factory.race_files
        self.location = location
        self._factory = factory
        self._stores: list[StatusStore] = []

    def open(self) -> StatusStore:
        store = self._factory.open(self.location)
        self._stores.append(store)
        return store

    def close(self, store: StatusStore) -> None:
        """Close one store now (e.g. to reopen the ledger); teardown will not close it again."""
        self._stores.remove(store)
        store.close()

    def close_all(self) -> None:
        while self._stores:
            self._stores.pop().close()
