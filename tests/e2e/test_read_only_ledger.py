"""Read-only commands on a ledger the user may only read, through the CLI.

This machine runs the tests as root, which ignores file permissions, so the commands run as an
unprivileged user (uid 65534, `setpriv`) on a project under /tmp that user can traverse."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CLI, clean_env, ohlcv_csv, workflow, write_config, write_file

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run the CLI as an unprivileged user",
)


@pytest.fixture
def project_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ingestflow-ro-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_nobody(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, *CLI, *args, "--config", str(config)],
        cwd=config.parent,
        env=clean_env({"HOME": "/tmp"}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_files_and_history_work_on_a_read_only_ledger_and_run_says_why_it_cannot(
    project_root: Path,
) -> None:
    project = write_config(project_root / "p", [workflow("ohlcv", "ohlcv/", batch_size=1)])
    write_file(project.landing / "ohlcv" / "a.csv", ohlcv_csv(random.Random(1), 5))
    project.run_once()
    for path in [project.root, *project.root.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    config = project.config
    status = as_nobody(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["counts"]["DONE"] == 1
    files = as_nobody(config, "files", "--json")
    assert files.returncode == 0, files.stderr
    assert [f["key"] for f in json.loads(files.stdout)] == ["ohlcv/a.csv"]
    history = as_nobody(config, "history", "ohlcv/a.csv", "--json")
    assert history.returncode == 0, history.stderr
    assert [h["to"] for h in json.loads(history.stdout)] == ["TODO", "PROCESSING", "DONE"]
    run = as_nobody(config, "run", "--once")
    assert run.returncode == 1, run.stdout + run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error:") and ".ingestflow" in line and "Traceback" not in line


def test_a_read_command_on_a_ledger_still_being_created_waits_for_its_tables(
    tmp_path: Path,
) -> None:
    """`run` has created the ledger file but not committed its tables yet (as `status` may
    see it at the very start of a run): the reader opens it as a writer would, not fail."""
    import sqlite3

    project = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/")])
    ledger = project.root / ".ingestflow" / "ledger.db"
    ledger.parent.mkdir(parents=True)
    sqlite3.connect(ledger).close()  # an empty database file: no tables yet

    counts = project.json("status")["counts"]

    assert counts == {"TODO": 0, "PROCESSING": 0, "DONE": 0, "FAILED": 0}
