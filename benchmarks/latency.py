"""The latency case: files dropped one at a time into a running ``ingestflow run``.

A fresh project (landing folder, output folder, SQLite ledger) gets a config with one workflow
of ``batch_size = 1``; ``python -m ingestflow run`` is started as a child (file watcher on, the
default ``schedule_interval`` and ``settle``). After one warm-up file is DONE, each file is
written under a temporary name (ignored by ingestflow) and renamed into place, then the harness
polls the ledger until the file is DONE before dropping the next one (unloaded latency).

Reported per file: ``ledger_s = end_time - upload_time`` from the ledger (upload time is the
file's mtime, i.e. when its writer finished), and ``observed_s``, from the rename until the
harness saw DONE (includes the 10 ms polling). The ``ingestflow run`` process is stopped with
SIGTERM and reaped with ``os.wait4`` for its CPU time and peak RSS.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.datagen import Dataset
from benchmarks.runner import BenchmarkError, Child

POLL_S = 0.01
GAP_S = 0.2


def _config(project: Path) -> Path:
    path = project / "ingestflow.toml"
    path.write_text(
        f"""schedule_interval = "1s"

[landing]
path = {json.dumps(str(project / "landing"))}
bucket = "landing"
settle = "1s"
watch = true

[output]
path = {json.dumps(str(project / "output"))}

[ledger]
url = {json.dumps("sqlite:///" + str(project / "ledger.db").lstrip("/"))}

[[workflows]]
name = "ohlcv"
prefix = "ohlcv/"
transform = "ohlcv"
batch_size = 1
max_wait = "30s"
"""
    )
    (project / "landing" / "ohlcv").mkdir(parents=True, exist_ok=True)
    return path


def _status(ledger: Path, key: str) -> tuple[str, float, float | None] | None:
    if not ledger.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute(
                "SELECT status, upload_time, end_time FROM workflow_status "
                "WHERE bucket = 'landing' AND key = ?",
                (key,),
            ).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return None  # schema not created yet
    return None if row is None else (str(row[0]), float(row[1]), row[2])


def _drop(landing: Path, key: str, data: bytes) -> float:
    """Write `data` under a temporary name, rename it to `key`; the time of the rename."""
    target = landing / key
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with tmp.open("wb") as stream:
        stream.write(data)
    os.replace(tmp, target)
    return time.time()


def _wait_done(ledger: Path, key: str, timeout: float, child: Child) -> tuple[float, float]:
    """Poll the ledger until `key` is DONE: (upload_time, end_time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = _status(ledger, key)
        if found is not None and found[0] == "DONE" and found[2] is not None:
            return found[1], float(found[2])
        if found is not None and found[0] == "FAILED":
            raise BenchmarkError(f"latency: {key} FAILED in ingestflow\n{child.tail()}")
        if not child.running():
            raise BenchmarkError(f"latency: ingestflow run exited early\n{child.tail()}")
        time.sleep(POLL_S)
    raise BenchmarkError(f"latency: {key} not DONE within {timeout:.0f} s\n{child.tail()}")


def run_latency(dataset: Dataset, files: int, work: Path, timeout_s: float) -> dict[str, Any]:
    """One latency run: start `ingestflow run`, drop `files` files, stop it; per-file latencies."""
    config = _config(work)
    landing, ledger = work / "landing", work / "ledger.db"
    payloads = [(dataset.landing / f.key).read_bytes() for f in dataset.files]
    argv = [sys.executable, "-m", "ingestflow", "run", "--config", str(config)]
    child = Child(argv, work / "logs", timeout_s)
    samples: list[dict[str, float]] = []
    try:
        # Warm-up: the first file also waits for start-up (imports, watcher, DuckDB).
        _drop(landing, "ohlcv/warmup/warmup.csv", payloads[0])
        _wait_done(ledger, "ohlcv/warmup/warmup.csv", 120.0, child)
        for i in range(files):
            key = f"ohlcv/drop/{i:05d}.csv"
            time.sleep(GAP_S)
            dropped = _drop(landing, key, payloads[i % len(payloads)])
            upload, end = _wait_done(ledger, key, 60.0, child)
            seen = time.time()
            samples.append({"ledger_s": end - upload, "observed_s": seen - dropped})
    finally:
        if child.running():
            os.kill(child.pid, signal.SIGTERM)
        measured = child.wait()
    if measured.timed_out:
        raise BenchmarkError(f"latency: ingestflow run timed out\n{child.tail()}")
    return {
        **measured.as_dict(),
        "exit_code": measured.exit_code,
        "files": files,
        "samples": samples,
    }
