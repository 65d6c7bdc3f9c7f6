"""The ledger case on PostgreSQL: ``PostgresStatusStore`` at 1,000,000 rows, through its port.

    .venv/bin/python -m benchmarks.postgres_ledger [rows [register [claims]]]

Standalone (defaults: 1,000,000 rows, 100,000 registered or a tenth of the rows when fewer, 20
claims or as many as the registered files allow; prints a Markdown table),
and part of ``python -m benchmarks``' ledger case: there ``contender.run_postgres_ledger`` calls
``measure`` in its own child process per run, with the size profile's ``ledger_total_rows``,
``ledger_register`` and ``ledger_claims`` (so ``--size smoke`` stays small), and the report puts
the numbers beside SQLite's.

A throwaway server (tests/support/postgres_server.py: PG on 127.0.0.1, durability off, the
``SETTINGS`` below), then a ledger of ``rows - register`` finished files bulk-loaded by plain SQL
into ingestflow's own schema, as benchmarks/ledger.py does for SQLite (DONE, ~1% FAILED, four
workflows in 1,000-file batches, one transition each, up to 1,000 stale TODO files of ``ohlcv``;
the counters rebuilt from the rows). Not measured. Then timed, with the same files and
workflows as benchmarks/ledger.py:

- ``register``: ``register`` new files in chunks of 5,000 (what discovery does) -> files/s;
- ``reregister``: the same files again, unchanged (a restart's listing) -> files/s;
- ``claim``: ``claims`` claims of 1,000 files -> median ms;
- ``finish``: one claimed batch finished with one 1,000-outcome call -> ms.

The measuring process is the client: the server's own CPU time and memory are not in the
child's figures.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from benchmarks import pg
from benchmarks.ledger import BUCKET, CLAIM_FILES, REGISTER_CHUNK, STALE_ROWS, WORKFLOWS, new_files
from ingestflow.adapters.state.postgres import PostgresStatusStore
from ingestflow.domain.records import FileOutcome

REGISTER = 100_000
# The server's memory: the 1,000,000-row ledger (rows, indexes, transitions) fits, as on any
# production server sized for it (the default shared_buffers, 128MB, is a tenth of that).
SETTINGS = {"shared_buffers": "2GB", "max_wal_size": "4GB"}
CLAIMS = 20

# Finished files i in [0, n): the rows benchmarks/ledger.py writes on SQLite.
_LOAD = """
INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time, status,
    attempts, batch_id, lease_until, available_at, start_time, end_time, error, output)
SELECT %(bucket)s, format('%%s/%%s/%%s.csv', wf, lpad((i / 1000)::text, 5, '0'),
        lpad(i::text, 8, '0')),
    wf, format('%%s/%%s/', wf, lpad((i / 1000)::text, 5, '0')), 50000 + i %% 977,
    format('%%s-%%s', 50000 + i %% 977, i), up,
    CASE WHEN i %% 101 = 0 THEN 'FAILED' ELSE 'DONE' END, 1,
    'batch' || lpad((i / 1000)::text, 8, '0'), NULL, 0, up + 5, up + 6,
    CASE WHEN i %% 101 = 0 THEN 'column ''Open'', row 7: cannot parse ''x'' as double' END,
    CASE WHEN i %% 101 = 0 THEN NULL ELSE format('/data/output/%%s/%%s/%%s/%%s.csv.parquet', wf,
        wf, lpad((i / 1000)::text, 5, '0'), lpad(i::text, 8, '0')) END
FROM (SELECT i, (%(names)s::text[])[(i / 1000) %% 4 + 1] AS wf,
        %(t0)s + i * 2.0 + ((i::bigint * 7919) %% 1000) / 1000.0 AS up
      FROM generate_series(0, %(n)s - 1) AS i) AS r
"""
_LOAD_STALE = """
INSERT INTO workflow_status (bucket, key, workflow, prefix, size, etag, upload_time, status)
SELECT %(bucket)s, format('ohlcv/old/%%s.csv', lpad(i::text, 6, '0')), 'ohlcv', 'ohlcv/old/',
    50000, '50000-old' || i, %(old)s - i, 'TODO'
FROM generate_series(0, %(n)s - 1) AS i
"""
_LOAD_TRANSITIONS = """
INSERT INTO transitions (file_id, bucket, key, workflow, from_status, to_status, at, reason,
    old_image, new_image)
SELECT id, bucket, key, workflow, CASE WHEN status = 'TODO' THEN NULL ELSE 'PROCESSING' END, status,
    coalesce(end_time, upload_time),
    CASE WHEN status = 'TODO' THEN 'registered' ELSE 'processed' END, NULL,
    json_build_array(bucket, key, workflow, prefix, size, etag, upload_time, status, attempts,
        batch_id, lease_until, start_time, end_time, error, output)::text
FROM workflow_status ORDER BY id
"""
_LOAD_DERIVED = """
INSERT INTO batches
SELECT batch_id, workflow, 'bench:1', min(start_time), max(end_time), 'FINISHED'
FROM workflow_status WHERE batch_id IS NOT NULL GROUP BY batch_id, workflow;
DELETE FROM status_counts;
INSERT INTO status_counts
SELECT workflow, status, count(*), sum(size) FROM workflow_status GROUP BY workflow, status;
"""


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def load(url: str, rows: int) -> None:
    """The base ledger: `rows` rows (finished files and a few stale TODO files)."""
    import psycopg

    stale = min(STALE_ROWS, rows // 10)
    names = [w.name for w in WORKFLOWS]
    now = time.time()
    with psycopg.connect(url) as conn:
        params = {"bucket": BUCKET, "names": names, "t0": now - 40 * 86400.0}
        conn.execute(_LOAD, {**params, "n": rows - stale})
        conn.execute(_LOAD_STALE, {"bucket": BUCKET, "old": now - 10 * 3600.0, "n": stale})
        conn.execute(_LOAD_TRANSITIONS)
        conn.execute(_LOAD_DERIVED)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # the load's writes are not left to the measurements


def _register(store: PostgresStatusStore, files: list[Any], now: float) -> dict[str, Any]:
    chunk_ms = []
    started = time.perf_counter()
    for start in range(0, len(files), REGISTER_CHUNK):
        t = time.perf_counter()
        store.register(BUCKET, files[start : start + REGISTER_CHUNK], now)
        chunk_ms.append(_ms(t))
    seconds = time.perf_counter() - started
    return {
        "files": len(files),
        "seconds": seconds,
        "files_per_s": len(files) / seconds,
        "chunk_ms": chunk_ms,
    }


def measure(
    rows: int = 1_000_000, register: int = REGISTER, claims: int = CLAIMS
) -> dict[str, Any]:
    """Start a server, load `rows - register` rows, time the port (see the module docstring)."""
    if not 0 < register < rows:
        raise ValueError(f"register must be between 1 and rows - 1: {register} of {rows}")
    waiting = register + min(STALE_ROWS, (rows - register) // 10)
    if not 0 < claims * CLAIM_FILES <= waiting:
        raise ValueError(
            f"{claims} claims of {CLAIM_FILES} need that many waiting files: {waiting}"
        )
    job_started = time.perf_counter()
    server = pg.start_server(SETTINGS)
    out: dict[str, Any] = {
        "server_start_s": time.perf_counter() - job_started,
        "server_version": server.bindir.parent.name,  # /usr/lib/postgresql/<version>/bin
    }
    try:
        url = server.new_database()
        store = PostgresStatusStore(url)
        store.sync_workflows(WORKFLOWS)
        started = time.perf_counter()
        load(url, rows - register)
        out.update(rows=rows, load_s=time.perf_counter() - started, settings=dict(SETTINGS))
        now = time.time()
        files = new_files(register, now)
        out["register"] = _register(store, files, now)
        out["reregister"] = _register(store, files, now)
        out["rows_at_measure"] = sum(store.counts().values())
        ohlcv, claim_ms, batches = WORKFLOWS[0], [], []
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
            FileOutcome.done(r.key, r.etag, f"/out/{r.key}.parquet", 100) for r in batches[0].files
        ]
        t = time.perf_counter()
        finished = store.finish(ohlcv, batches[0].batch_id, outcomes, time.time())
        out["finish_batch_ms"] = _ms(t)
        if finished.done != CLAIM_FILES:
            raise SystemExit(f"finish marked {finished.done} files done, expected {CLAIM_FILES}")
        store.close()
    finally:
        server.stop()
    out["job_s"] = time.perf_counter() - job_started
    return out


def table(out: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    claim = out["claim_ms"]
    lines = [
        f"PostgresStatusStore at {out['rows_at_measure']:,} rows (load {out['load_s']:.1f} s)",
        "",
        "| measurement | result | goal |",
        "|---|---|---|",
        f"| register {out['register']['files']:,} new files (5k chunks) "
        f"| {out['register']['files_per_s']:,.0f} files/s"
        " | >= 50,000 files/s |",
        f"| re-register the same files | {out['reregister']['files_per_s']:,.0f} files/s | |",
        f"| claim 1,000 files (median of {len(claim)}) | {statistics.median(claim):.1f} ms"
        f" (min {min(claim):.1f}, max {max(claim):.1f}) | < 30 ms |",
        f"| finish 1,000 outcomes (one call) | {out['finish_batch_ms']:.1f} ms | |",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    numbers = [int(a.replace(",", "").replace("_", "")) for a in argv]
    if len(numbers) > 3:
        print("usage: python -m benchmarks.postgres_ledger [rows [register [claims]]]")
        return 2
    rows = numbers[0] if numbers else 1_000_000
    register = numbers[1] if len(numbers) > 1 else min(REGISTER, rows // 10)
    claims = numbers[2] if len(numbers) > 2 else min(CLAIMS, register // CLAIM_FILES)
    print(table(measure(rows, register, claims)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
