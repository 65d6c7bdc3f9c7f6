"""The dashboard's files API at the ledger case's size, over real HTTP.

In a fresh child process per run (``python -m benchmarks.contender files_api ARGS``), on a fresh
copy of the ledger case's base ledger: the case's ``register`` files are registered (not
measured) so the ledger holds ``total`` rows, exactly as the ledger measurements see it; then
ingestflow's server app (``build_server_app``: the `/api/` routes behind the same middleware as
``ingestflow serve``, no token) is served by ``start_server`` on 127.0.0.1 and each query of
QUERIES is asked with urllib, as a browser would (``Accept-Encoding: gzip``), on a new
connection each time. A query's first call is its ``cold`` figure (the first one is also the
server's first request); ``repeats`` more calls give the warm p50 / p95. The clock runs from
just before the request to the last byte of the answer.

``split`` re-does each query's work in-process, without HTTP (the median of ``repeats``
calls): ``store_ms`` is ``file_page`` (the ledger reads), ``render_ms`` the JSON the route
builds (``render.file_json`` + ``render.dumps``), ``gzip_ms`` GZipMiddleware's compression of
it (level 9); the rest of a request's time is HTTP, Starlette and the worker-thread hop.

Every answer is checked: 200, the page size, and that each file matches the filters.
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ledger import BUCKET, WORKFLOWS, new_files

PAGE = 100  # the API's default limit, which the queries below use
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


@dataclass(frozen=True)
class Query:
    """One measured request. `params` None: page 2, the `next_cursor` of the first page."""

    id: str
    text: str
    params: dict[str, str] | None
    goal: bool  # whether the < 100 ms target applies (report.FILES_API_GOAL_MS)
    status: str | None = None
    workflow: str | None = None
    prefix: str | None = None
    q: str | None = None


QUERIES = (
    Query("first_page", "first page", {}, True),
    Query(
        "failed_trades",
        "status=FAILED & workflow=trades",
        {"status": "FAILED", "workflow": "trades"},
        True,
        status="FAILED",
        workflow="trades",
    ),
    Query(
        "done_quotes",
        "status=DONE & prefix=quotes/",
        {"status": "DONE", "prefix": "quotes/"},
        True,
        status="DONE",
        prefix="quotes/",
    ),
    Query("page_2", "page 2 (next_cursor of the first page)", None, True),
    # A key substring: 1,000 keys of one early folder, a full page after ~3,100 rows read.
    Query("q_match", "q=/00003/ (key substring, matches)", {"q": "/00003/"}, False, q="/00003/"),
    # No key matches: the scan reads its whole budget (file_search.MAX_SCAN rows) per page.
    Query("q_none", "q=no-such-key (no match: full scan budget)", {"q": "no-such-key"}, False),
)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _path(query: Query, cursor: str | None) -> str:
    params = query.params if query.params is not None else {"cursor": cursor or ""}
    return "/api/files" + (f"?{urllib.parse.urlencode(params)}" if params else "")


def get(url: str) -> tuple[float, dict[str, Any], int]:
    """(ms to the last byte, decoded JSON, bytes on the wire) of one GET; raises on non-200."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "Accept-Encoding": "gzip"}
    )
    started = time.perf_counter()
    with _OPENER.open(request, timeout=120) as response:
        body = response.read()
        encoding = response.headers.get("Content-Encoding")
        status = response.status
    ms = _ms(started)
    if status != 200:
        raise SystemExit(f"GET {url}: HTTP {status}")
    raw = gzip.decompress(body) if encoding == "gzip" else body
    return ms, json.loads(raw), len(body)


def check(query: Query, answer: dict[str, Any], after: dict[str, Any] | None) -> None:
    """SystemExit unless `answer` is a plausible page for `query` (`after`: the page before)."""
    files = answer["files"]
    problem = ""
    if query.id != "q_none" and len(files) != PAGE:
        problem = f"{len(files)} files, expected {PAGE}"
    elif query.id == "q_none" and (files or answer["next_cursor"] is None):
        problem = "expected an empty page with a next_cursor (scan budget spent)"
    for f in files:
        if query.status and f["status"] != query.status:
            problem = f"a {f['status']} file in a status={query.status} page"
        if query.workflow and f["workflow"] != query.workflow:
            problem = f"a {f['workflow']} file in a workflow={query.workflow} page"
        if query.prefix and not f["key"].startswith(query.prefix):
            problem = f"{f['key']!r} in a prefix={query.prefix} page"
        if query.q and query.q.casefold() not in f["key"].casefold():
            problem = f"{f['key']!r} in a q={query.q} page"
    if after is not None and files:
        last = after["files"][-1]
        if (files[0]["upload_time"], files[0]["key"]) <= (last["upload_time"], last["key"]):
            problem = "page 2 does not start after page 1"
    if problem:
        raise SystemExit(f"GET /api/files ({query.text}): {problem}")


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(_ms(started))
    return statistics.median(times)


def split(store: Any, query: Query, cursor: str | None, repeats: int) -> dict[str, float]:
    """The in-process cost of `query`'s parts (see the module docstring)."""
    from ingestflow.domain.status import parse_status
    from ingestflow.entrypoints.cli import render
    from ingestflow.entrypoints.server.params import decode_cursor, encode_cursor
    from ingestflow.services.file_search import file_page

    params = query.params if query.params is not None else {}
    status = params.get("status")

    def page() -> Any:
        return file_page(
            store,
            PAGE,
            status=parse_status(status) if status else None,
            prefix=params.get("prefix"),
            workflow=params.get("workflow"),
            query=params.get("q"),
            after=decode_cursor(cursor) if query.params is None and cursor else None,
        )

    found = page()

    def body() -> str:
        after = found.next_after
        return render.dumps(
            {
                "files": [render.file_json(r) for r in found.files],
                "next_cursor": encode_cursor(after) if after is not None else None,
            }
        )

    text = body().encode("utf-8")

    def squeeze() -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return compressor.compress(text) + compressor.flush()

    return {
        "store_ms": _median_ms(page, repeats),
        "render_ms": _median_ms(body, repeats),
        "gzip_ms": _median_ms(squeeze, repeats),
        "body_bytes": float(len(text)),
    }


def settings_for(db: Path, work: Path) -> Any:
    """A minimal Settings over the benchmark's ledger and workflows (bucket "landing")."""
    from ingestflow.config.settings import Settings

    return Settings(
        config_path=None,
        env=None,
        landing_path=work / "landing",
        landing_bucket=BUCKET,
        settle=0.0,
        watch=False,
        output_path=work / "output",
        output_compression="snappy",
        ledger_url=f"sqlite:///{str(db).lstrip('/')}",
        ledger_path=db,
        schedule_interval=1.0,
        engine="duckdb",
        engine_threads=None,
        engine_memory_limit=None,
        workflows=WORKFLOWS,
    )


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Run the files API measurements (in a child process; see the module docstring)."""
    from ingestflow.adapters.state.sqlite import SqliteStatusStore
    from ingestflow.bootstrap_metrics import build_server_app
    from ingestflow.entrypoints.server import start_server

    job_started = time.perf_counter()
    db_path = Path(args["db"])
    shutil.copyfile(args["base"], db_path)
    repeats, register, rows = int(args["repeats"]), int(args["register"]), int(args["rows"])
    store = SqliteStatusStore(db_path)
    store.sync_workflows(WORKFLOWS)
    files = new_files(register, time.time())
    for start in range(0, register, 5_000):
        store.register(BUCKET, files[start : start + 5_000], time.time())
    counts = store.counts()
    held = sum(counts.values())
    if held != rows:
        raise SystemExit(f"the ledger holds {held:,} rows, expected {rows:,}")
    app = build_server_app(settings_for(db_path, db_path.parent), store, None, False)
    server = start_server(app, "127.0.0.1", 0)
    out: dict[str, Any] = {
        "rows_at_measure": held,
        "counts": {s.value: n for s, n in counts.items()},
        "repeats": repeats,
        "queries": {},
    }
    first: dict[str, Any] | None = None
    try:
        for query in QUERIES:
            cursor = first["next_cursor"] if first is not None else None
            url = server.url + _path(query, cursor)
            cold_ms, answer, wire = get(url)
            check(query, answer, first if query.params is None else None)
            if query.id == "first_page":
                first = answer
            warm = []
            for _ in range(repeats):
                ms, again, _ = get(url)
                if again != answer:
                    raise SystemExit(f"GET {url}: the answer changed between calls")
                warm.append(ms)
            out["queries"][query.id] = {
                "text": query.text,
                "goal": query.goal,
                "path": _path(query, cursor),
                "cold_ms": cold_ms,
                "warm_ms": warm,
                "files": len(answer["files"]),
                "has_next": answer["next_cursor"] is not None,
                "wire_bytes": wire,
                "split": split(store, query, cursor, repeats),
            }
    finally:
        server.stop()
        store.close()
    out["job_s"] = time.perf_counter() - job_started
    return out
