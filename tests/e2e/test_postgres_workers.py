"""Many `ingestflow run` processes on one PostgreSQL ledger (a real server started here):
every file ends DONE exactly once, also when one worker is killed with `kill -9` mid-batch.

Every worker lists the landing folder (registration is idempotent) and claims batches; the
claims race through `FOR UPDATE SKIP LOCKED`. The checks read the ledger's transitions straight
from PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from e2e_support import Project, ohlcv_csv, wait_until, workflow, write_config, write_file
from postgres_server import PostgresServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FILES = 2000
WORKERS = 4


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    started = PostgresServer().start()
    try:
        yield started
    finally:
        started.stop()


def postgres_project(root: Path, url: str, **settings: Any) -> Project:
    project = write_config(
        root,
        [workflow("ohlcv", "ohlcv/", **settings)],
        schedule_interval="200ms",
    )
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(
        text.replace('url = "sqlite://.ingestflow/ledger.db"', f'url = "{url}"'), encoding="utf-8"
    )
    return project


def drop_small_files(project: Project, count: int) -> list[str]:
    rng = random.Random(11)
    keys = [f"ohlcv/S{k % 20:02d}/2024-{k // 20 % 12 + 1:02d}-{k:05d}.csv" for k in range(count)]
    for key in keys:
        write_file(project.landing / key, ohlcv_csv(rng, 3), atomic=True)
    return keys


def ended(url: str) -> dict[str, list[tuple[str | None, str]]]:
    """Every key's transitions, oldest first, read from the ledger."""
    found: dict[str, list[tuple[str | None, str]]] = {}
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT key, from_status, to_status FROM transitions ORDER BY id")
        for key, old, new in rows:
            found.setdefault(key, []).append((old, new))
    return found


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM workflow_status GROUP BY status")
        return {str(status): int(n) for status, n in rows}


def test_setup_creates_the_schema_and_the_cli_reads_the_postgres_ledger(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.new_database()
    project = postgres_project(tmp_path / "p", url, batch_size=2, max_wait="0s")
    ready = project.json("setup")
    assert ready["schema_version"] >= 1
    assert "password" not in project.cli("setup").stdout.lower()
    keys = drop_small_files(project, 4)
    project.run_once()
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 4, "FAILED": 0}
    assert sorted(project.by_key()) == sorted(keys)
    assert [t["to"] for t in project.history(keys[0])] == ["TODO", "PROCESSING", "DONE"]


def test_four_workers_on_one_postgres_ledger_process_every_file_exactly_once(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.new_database()
    project = postgres_project(
        tmp_path / "p", url, batch_size=50, max_batch_files=50, max_wait="0s"
    )
    project.cli("setup")
    keys = drop_small_files(project, FILES)
    with ExitStack() as stack:
        for _ in range(WORKERS):
            stack.enter_context(project.running())
        wait_until(
            lambda: counts(url).get("DONE", 0) == FILES, 300, lambda: f"counts: {counts(url)}"
        )
    history = ended(url)
    assert sorted(history) == sorted(keys)
    for key, steps in history.items():
        assert steps == [(None, "TODO"), ("TODO", "PROCESSING"), ("PROCESSING", "DONE")], key
    assert len(project.outputs("ohlcv")) == FILES


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.new_database()
    project = postgres_project(
        tmp_path / "p", url, batch_size=100, max_batch_files=100, max_wait="0s", lease="3s"
    )
    project.cli("setup")
    keys = drop_small_files(project, 600)
    with ExitStack() as stack:
        workers = [stack.enter_context(project.running()) for _ in range(WORKERS)]

        def victim() -> int | None:
            """The pid of a worker holding a running batch (owners are host:pid)."""
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT owner FROM batches WHERE state = 'RUNNING'")
                owners = [str(owner) for (owner,) in rows]
            pids = {w.pid for w in workers}
            for owner in owners:
                pid = owner.rsplit(":", 1)[-1]
                if pid.isdigit() and int(pid) in pids:
                    return int(pid)
            return None

        deadline = time.monotonic() + 120
        killed = None
        while killed is None and time.monotonic() < deadline:
            killed = victim()
            if killed is None:
                time.sleep(0.02)
        assert killed is not None, f"no worker was seen holding a batch: {counts(url)}"
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: counts(url).get("DONE", 0) == len(keys), 300, lambda: str(counts(url)))
    history = ended(url)
    assert sorted(history) == sorted(keys)
    taken_over = 0
    for key, steps in history.items():
        assert steps[-1] == ("PROCESSING", "DONE"), key
        assert sum(1 for _, new in steps if new == "DONE") == 1, key
        assert all(new != "FAILED" for _, new in steps), key
        taken_over += len(steps) > 3
    assert taken_over > 0  # the killed worker's batch was taken over, not lost
    assert len(project.outputs("ohlcv")) == len(keys)


def test_an_idle_worker_is_woken_by_new_files_without_waiting_for_its_interval(
    server: PostgresServer, tmp_path: Path
) -> None:
    """`schedule_interval` is an hour: the worker only claims at start, when woken by the
    ledger's notifications, or at a max_wait deadline (none here). The files registered by
    another process must still be done within seconds."""
    url = server.new_database()
    project = postgres_project(tmp_path / "p", url, batch_size=1, max_wait="1h")
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(
        text.replace('schedule_interval = "200ms"', 'schedule_interval = "1h"'), encoding="utf-8"
    )
    assert 'schedule_interval = "1h"' in project.config.read_text(encoding="utf-8")
    project.cli("setup")
    with project.running("--role", "work"):
        time.sleep(2.0)  # the worker's first claim (nothing yet), then it sleeps
        for round_ in range(3):
            wanted = len(drop_small_files(project, 2 * (round_ + 1)))
            project.cli("run", "--once", "--role", "discover")
            started = time.monotonic()
            wait_until(
                lambda n=wanted: counts(url).get("DONE", 0) == n, 30, lambda: str(counts(url))
            )
            assert time.monotonic() - started < 10.0
