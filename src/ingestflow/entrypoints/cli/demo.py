"""`ingestflow demo`: a real end-to-end run on generated files, with a summary."""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from rich.text import Text

from ingestflow import bootstrap
from ingestflow.bootstrap_alerts import build_alerting
from ingestflow.config import load_settings
from ingestflow.domain.status import Status
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.init_template import TEMPLATE
from ingestflow.sampledata import write_ohlcv_files

BAD_FILE = "ohlcv/BROKEN/2024-01-01.csv"


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


TRY_SQL = "SELECT count(*) AS candles, round(avg(price_change), 6) AS avg_change FROM ohlcv"


def cli_command() -> list[str]:
    """How to run this very CLI from any folder: the console script that is running (by its
    absolute path: `.venv/bin` is usually not on PATH), else `<python> -m ingestflow`."""
    script = Path(sys.argv[0])
    if script.name == "ingestflow" and script.is_file():
        return [os.path.abspath(script)]
    return [sys.executable, "-m", "ingestflow"]


def try_commands(config: Path) -> list[str]:
    """Shell command lines to explore the demo, each working as printed from any folder."""
    cli, where = cli_command(), ["--config", str(config)]
    return [
        shlex.join([*cli, "status", *where]),
        shlex.join([*cli, "files", "--status", "FAILED", *where]),
        shlex.join([*cli, "query", TRY_SQL, *where]),
        shlex.join([*cli, "metrics", "--since", "1h", *where]),
        shlex.join([*cli, "alerts", *where]),
    ]


def run_demo(directory: Path | None, files: int, rows: int, seed: int) -> None:
    out = render.console()
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="ingestflow-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.abspath(root))
    config = root / "ingestflow.toml"
    text = TEMPLATE.replace('max_wait = "30s"', 'max_wait = "0s"').replace(
        'settle = "1s"', 'settle = "0s"'
    )
    config.write_text(text, encoding="utf-8")
    landing = root / "landing"
    heading = Text.assemble(("ingestflow demo", "bold"), " in ", render.text(root))
    out.print(heading, soft_wrap=True)  # one line, however long the path
    t0 = time.perf_counter()
    paths = write_ohlcv_files(landing, files, rows, seed=seed, gzip_every=10)
    bad = landing / BAD_FILE
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(
        "Date,Open,High,Low,Close,Volume\n2024-01-01 00:00:00,1.1,1.2,1.0,1.15,10\n"
        "not-a-date,1.1,1.2,1.0,1.15,10\n"
    )
    (landing / "README.txt").write_text("not a CSV: listed as unrouted, never processed\n")
    generated = time.perf_counter() - t0
    in_bytes = sum(p.stat().st_size for p in [*paths, bad])
    render.line(
        f"generated {len(paths)} OHLCV files + 1 malformed file ({_human(in_bytes)}) "
        f"in {generated:.2f}s"
    )

    settings = load_settings(config)
    pipeline = bootstrap.build_pipeline(settings)
    t1 = time.perf_counter()
    summary = pipeline.run_once(settle_wait=False)
    elapsed = time.perf_counter() - t1
    store = pipeline.store
    build_alerting(settings, store).run_pass()  # as `run --once` does: the failed file alerts
    counts = store.counts()
    done = store.files(status=Status.DONE)
    failed = store.files(status=Status.FAILED)
    out_bytes = sum(Path(r.output).stat().st_size for r in done if r.output)
    with bootstrap.open_query(settings, "SELECT count(*) FROM ohlcv") as query:
        result = [row for batch in query.batches() for row in batch]
    total_rows = result[0][0] if result else 0
    out.print(
        render.table(
            "demo summary",
            ["measure", "value"],
            [
                ("files registered", summary.registered),
                ("batches run", summary.batches),
                ("DONE", counts[Status.DONE]),
                ("FAILED", counts[Status.FAILED]),
                ("unrouted", summary.unrouted),
                ("rows written", total_rows),
                ("input bytes", _human(in_bytes)),
                ("Parquet bytes", _human(out_bytes)),
                ("pipeline time", f"{elapsed:.2f}s"),
                ("throughput", f"{len(done) / elapsed:.0f} files/s" if elapsed else "-"),
                ("outputs", str(settings.output_path / "ohlcv")),
                ("ledger", str(settings.ledger_path)),
            ],
        )
    )
    for record in failed:
        render.line(f"FAILED (on purpose) {record.key}: {record.error}")
    render.line("\ntry (from any folder):")
    for command in try_commands(config):
        render.line(f"  {command}")
    serve = shlex.join([*cli_command(), "serve", "--config", str(config)])
    render.line(f"the dashboard (until Ctrl-C): {serve}, then open http://127.0.0.1:8765/")
    pipeline.close()
    expected_done = len(paths)
    if counts[Status.DONE] != expected_done or counts[Status.FAILED] != 1:
        raise SystemExit(f"demo check failed: expected {expected_done} DONE and 1 FAILED")
