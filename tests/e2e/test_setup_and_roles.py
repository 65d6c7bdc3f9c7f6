"""`ingestflow setup` (the ledger's schema, idempotent, refused when newer) and `run --role`:
discovery and work split over separate processes on one ledger, through the real CLI."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from e2e_support import (
    drop_ohlcv_files,
    ohlcv_csv,
    transitions,
    wait_until,
    workflow,
    write_config,
    write_file,
)


def test_setup_creates_the_ledger_schema_and_can_run_again(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    ledger = project.root / ".ingestflow" / "ledger.db"
    assert not ledger.exists()

    first = project.json("setup")
    assert first["schema_version"] == 3
    assert first["workflows"] == ["ohlcv"]
    assert ledger.exists()
    again = project.cli("setup")
    assert "ledger ready:" in again.stdout and "schema version 3" in again.stdout
    assert project.counts() == {"TODO": 0, "PROCESSING": 0, "DONE": 0, "FAILED": 0}


def test_setup_refuses_a_ledger_written_by_a_newer_release(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    project.cli("setup")
    ledger = project.root / ".ingestflow" / "ledger.db"
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE ledger_info SET value = '99' WHERE name = 'schema_version'")

    refused = project.cli("setup", expect=1)
    assert "newer ingestflow" in refused.stderr
    assert "schema version 99" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_discover_run_registers_without_processing_and_a_work_run_processes_without_listing(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=2, max_wait="0s")]
    )
    keys = list(
        drop_ohlcv_files(
            project.landing,
            [f"ohlcv/EURUSD/2024-01-0{d}.csv" for d in range(1, 5)],
            seed=3,
            atomic=True,
        )
    )

    project.cli("run", "--once", "--role", "discover")
    assert project.counts() == {"TODO": 4, "PROCESSING": 0, "DONE": 0, "FAILED": 0}
    assert not project.outputs("ohlcv")

    late = "ohlcv/LATE/2024-01-01.csv"
    write_file(project.landing / late, ohlcv_csv(random.Random(1), 20), atomic=True)
    project.cli("run", "--once", "--role", "work")
    files = project.by_key()
    assert sorted(files) == sorted(keys)  # the late file was not listed by the worker
    assert {f["status"] for f in files.values()} == {"DONE"}
    for key in keys:
        assert transitions(project.history(key)) == [
            (None, "TODO"),
            ("TODO", "PROCESSING"),
            ("PROCESSING", "DONE"),
        ]

    project.cli("run", "--once")  # the default role does both
    assert project.by_key()[late]["status"] == "DONE"


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/")])
    refused = project.cli("run", "--once", "--role", "everything", expect=2)
    assert "--role" in refused.stderr


def test_one_discover_process_and_two_work_processes_ingest_every_file_once(
    tmp_path: Path,
) -> None:
    project = write_config(
        tmp_path / "p",
        [workflow("ohlcv", "ohlcv/", batch_size=3, max_wait="1s")],
        schedule_interval="200ms",
    )
    project.cli("setup")  # as the README says: the ledger first, then the processes
    with (
        project.running("--role", "discover"),
        project.running("--role", "work"),
        project.running("--role", "work"),
    ):
        names = [f"ohlcv/S{k % 3}/2024-02-{k + 1:02d}.csv" for k in range(12)]
        keys = list(drop_ohlcv_files(project.landing, names, seed=5, atomic=True))

        def all_done() -> bool:
            files = project.by_key()
            return len(files) == len(keys) and all(f["status"] == "DONE" for f in files.values())

        wait_until(all_done, 60, lambda: f"not all DONE: {project.counts()}")
    for key, history in project.histories(keys).items():
        assert transitions(history) == [
            (None, "TODO"),
            ("TODO", "PROCESSING"),
            ("PROCESSING", "DONE"),
        ], key
    assert len(project.outputs("ohlcv")) == len(keys)
