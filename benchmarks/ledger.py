"""The ledger case: ``SqliteStatusStore`` at up to 1,000,000 rows, measured through its port.

Setup (cached per size and seed, not measured): a ledger with ``total - register`` rows bulk
loaded by plain SQL into ingestflow's own schema — finished files (DONE, ~1% FAILED) of four
workflows in 1,000-file batches, one transition row each, plus up to 1,000 TODO files of the
``ohlcv`` workflow that are older than ``stale_after`` (so ``stale`` has something to find).

Measured, in a fresh child process per run on a fresh copy of that ledger:

- ``register``: ``store.register`` of ``register`` new files in chunks of 5,000 (what discovery
  does), bringing the ledger to ``total`` rows -> files/s;
- ``reregister``: the same files again, unchanged (a restart's listing) -> files/s;
- ``backlog`` and ``stale``: ``store.backlog('ohlcv', now)`` / ``store.stale(workflows, now)``
  at ``total`` rows -> ms per call;
- ``claim``: ``store.claim`` of 1,000-file batches while the backlog waits -> ms per claim;
- ``finish``: one claimed batch finished file by file (as a running batch does) -> ms per file,
  and another finished with one 1,000-outcome call -> ms;
- ``counts``: ``store.counts()`` (``ingestflow status``) -> ms.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from ingestflow.adapters.state.sqlite import SqliteStatusStore
from ingestflow.domain.records import FileOutcome, ObjectInfo
from ingestflow.domain.workflow import Workflow

BUCKET = "landing"
CLAIM_FILES = 1_000
REGISTER_CHUNK = 5_000
STALE_ROWS = 1_000
WORKFLOWS = (
    Workflow("ohlcv", "ohlcv/", batch_size=CLAIM_FILES, max_wait=0.0, max_batch_files=CLAIM_FILES),
    Workflow("trades", "trades/"),
    Workflow("quotes", "quotes/"),
    Workflow("events", "events/"),
)
_BASE_VERSION = 1


def schema_fingerprint() -> str:
    """A hash of the schema ingestflow creates, so a cached ledger is rebuilt when it changes."""
    with tempfile.TemporaryDirectory() as tmp:
        SqliteStatusStore(Path(tmp) / "schema.db").close()
        db = sqlite3.connect(Path(tmp) / "schema.db")
        ddl = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        db.close()
    return hashlib.sha256(repr(ddl).encode()).hexdigest()[:16]


def ensure_base(data_dir: Path, size: str, seed: int, rows: int, log: Any = print) -> Path:
    """The cached base ledger of `rows` rows (finished files + a few stale TODO files)."""
    root = data_dir / f"ledger-{size}-seed{seed}"
    base, marker = root / "base.db", root / "done.json"
    want = {"version": _BASE_VERSION, "rows": rows, "schema": schema_fingerprint()}
    if marker.is_file() and base.is_file() and json.loads(marker.read_text()) == want:
        log(f"  data: reusing {base} ({rows:,} rows)")
        return base
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    log(f"  data: bulk-loading a {rows:,}-row ledger into {base}")
    store = SqliteStatusStore(base)
    store.sync_workflows(WORKFLOWS)
    store.close()
    stale = min(STALE_ROWS, rows // 10)
    finished = rows - stale
    t0 = time.time() - 40 * 86400.0
    db = sqlite3.connect(base, isolation_level=None)
    db.execute("BEGIN")
    names = ", ".join(f"'{w.name}'" for w in WORKFLOWS)
    db.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1),
        r AS (SELECT i, json_extract(json_array({names}), '$[' || ((i / 1000) % 4) || ']') AS wf,
                     ? + i * 2.0 + ((i * 7919) % 1000) / 1000.0 AS up FROM c)
        INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time,
            status, attempts, batch_id, lease_until, available_at, start_time, end_time, error,
            output)
        SELECT '{BUCKET}', printf('%s/%05d/%08d.csv', wf, i / 1000, i), wf,
            printf('%s/%05d/', wf, i / 1000), 50000 + i % 977,
            printf('%d-%d', 50000 + i % 977, i), up,
            CASE WHEN i % 101 = 0 THEN 'FAILED' ELSE 'DONE' END, 1, printf('batch%08d', i / 1000),
            NULL, 0, up + 5, up + 6,
            CASE WHEN i % 101 = 0 THEN 'column ''Open'', row 7: cannot parse ''x'' as double'
            END,
            CASE WHEN i % 101 = 0 THEN NULL
                 ELSE printf('/data/output/%s/%s/%05d/%08d.csv.parquet', wf, wf, i / 1000, i) END
        FROM r
        """,
        (finished, t0),
    )
    old = time.time() - 10 * 3600.0
    db.execute(
        f"""
        WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
        INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time,
            status, attempts, available_at)
        SELECT '{BUCKET}', printf('ohlcv/old/%06d.csv', i), 'ohlcv', 'ohlcv/old/', 50000,
            printf('50000-old%d', i), ? - i, 'TODO', 0, 0 FROM c
        """,
        (stale, old),
    )
    db.execute(
        """
        INSERT INTO transitions (bucket, key, workflow, from_status, to_status, at, reason,
            old_image, new_image)
        SELECT bucket, key, workflow, 'PROCESSING', status, coalesce(end_time, upload_time),
            'processed', NULL,
            json_object('bucket', bucket, 'key', key, 'workflow', workflow, 'prefix', prefix,
                'size', size, 'etag', etag, 'upload_time', upload_time, 'status', status,
                'attempts', attempts, 'batch_id', batch_id, 'lease_until', lease_until,
                'start_time', start_time, 'end_time', end_time, 'error', error,
                'output', output)
        FROM workflow_status ORDER BY id
        """
    )
    db.execute(
        """
        INSERT INTO batches
        SELECT batch_id, workflow, 'bench:1', min(start_time), max(end_time), 'FINISHED'
        FROM workflow_status WHERE batch_id IS NOT NULL GROUP BY batch_id, workflow
        """
    )
    # Derived tables (such as per-status counters) are left to the store: emptied here, the
    # store rebuilds them from the rows when it opens the ledger.
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "status_counts" in tables:
        db.execute("DELETE FROM status_counts")
    db.execute("COMMIT")
    db.close()
    store = SqliteStatusStore(base)
    store.close()
    db = sqlite3.connect(base, isolation_level=None)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    marker.write_text(json.dumps(want))
    log(f"  data: ledger ready in {time.perf_counter() - started:.1f} s")
    return base


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def new_files(count: int, now: float) -> list[tuple[ObjectInfo, str]]:
    """The `count` files the measurements register (``ohlcv/reg/``, uploaded 5-10 min ago)."""
    return [
        (
            ObjectInfo(f"ohlcv/reg/{i:07d}.csv", 50_000 + i % 977, f"{50_000 + i % 977}-r{i}", t),
            WORKFLOWS[0].name,
        )
        for i, t in enumerate(now - 600.0 + k * (300.0 / count) for k in range(count))
    ]


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Run the ledger measurements (in a child process; see the module docstring)."""
    job_started = time.perf_counter()
    db_path = Path(args["db"])
    shutil.copyfile(args["base"], db_path)
    count, claims, repeats = int(args["register"]), int(args["claims"]), int(args["repeats"])
    store = SqliteStatusStore(db_path)
    store.sync_workflows(WORKFLOWS)
    ohlcv = WORKFLOWS[0]
    now = time.time()
    files = new_files(count, now)
    out: dict[str, Any] = {}
    for name in ("register", "reregister"):
        chunk_ms = []
        started = time.perf_counter()
        for start in range(0, count, REGISTER_CHUNK):
            t = time.perf_counter()
            store.register(BUCKET, files[start : start + REGISTER_CHUNK], now)
            chunk_ms.append(_ms(t))
        seconds = time.perf_counter() - started
        out[name] = {
            "files": count,
            "seconds": seconds,
            "files_per_s": count / seconds,
            "chunk_ms": chunk_ms,
        }
    out["rows_at_measure"] = sum(store.counts().values())
    now = time.time()
    backlog_ms, stale_ms, counts_ms = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        backlog = store.backlog(ohlcv.name, now)
        backlog_ms.append(_ms(t))
        t = time.perf_counter()
        stale = store.stale(WORKFLOWS, now)
        stale_ms.append(_ms(t))
    for _ in range(min(repeats, 3)):
        t = time.perf_counter()
        store.counts()
        counts_ms.append(_ms(t))
    out.update(
        backlog_ms=backlog_ms,
        backlog_count=backlog.count,
        stale_ms=stale_ms,
        stale_found=len(stale),
        counts_ms=counts_ms,
    )
    claim_ms, batches = [], []
    for _ in range(claims):
        t = time.perf_counter()
        batch = store.claim(ohlcv, now, "bench:2")
        claim_ms.append(_ms(t))
        if batch is None or len(batch.files) != CLAIM_FILES:
            got = 0 if batch is None else len(batch.files)
            raise SystemExit(f"claim returned {got} files, expected {CLAIM_FILES}")
        batches.append(batch)
    out["claim_ms"] = claim_ms
    outcomes = [
        [FileOutcome.done(r.key, r.etag, f"/out/{r.key}.parquet", 100) for r in b.files]
        for b in batches[:2]
    ]
    per_file = []
    for outcome in outcomes[0]:
        t = time.perf_counter()
        store.finish(ohlcv, batches[0].batch_id, [outcome], time.time())
        per_file.append(_ms(t))
    out["finish_per_file_ms"] = per_file
    if len(outcomes) > 1:
        t = time.perf_counter()
        store.finish(ohlcv, batches[1].batch_id, outcomes[1], time.time())
        out["finish_batch_ms"] = _ms(t)
    store.close()
    out["job_s"] = time.perf_counter() - job_started
    return out
