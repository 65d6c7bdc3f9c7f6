"""Setting up and running: init, setup, run, demo."""

from __future__ import annotations

import logging
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ingestflow import bootstrap
from ingestflow.bootstrap_alerts import AlertThread, alert_interval, build_alerting
from ingestflow.bootstrap_metrics import start_forwarding
from ingestflow.domain.errors import ConfigError
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.init_template import TEMPLATE
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt, handles_errors, settings
from ingestflow.entrypoints.cli.serve import server_beside_run
from ingestflow.services.alerting import Alerting

log = logging.getLogger("ingestflow")


@handles_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to set up.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config.")] = False,
) -> None:
    """Write a commented, working ingestflow.toml and create landing/output folders."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "ingestflow.toml"
    if target.exists() and not force:
        raise ConfigError("config", f"{target} already exists (use --force to overwrite)")
    target.write_text(TEMPLATE, encoding="utf-8")
    for sub in ("landing/ohlcv", "output", ".ingestflow"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    render.line(f"wrote {target}")
    render.line(
        f"drop CSV files into {directory / 'landing' / 'ohlcv'} and run: ingestflow run --once"
    )


class Role(StrEnum):
    all = "all"
    discover = "discover"
    work = "work"


@handles_errors
def setup(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Create the ledger's schema, or migrate it to this release's (idempotent), and store
    the configured workflows (a DynamoDB ledger's tables are created when missing). Exit 0
    when the ledger is ready; 1 (with the reason) when it cannot be, e.g. a ledger written by
    a newer ingestflow."""
    chosen = settings(config, env)
    store = bootstrap.open_store(chosen, setup=True)
    try:
        version = store.get_info("schema_version")
    finally:
        store.close()
    ready = {
        "ledger": chosen.ledger_url,
        "schema_version": int(version) if version and version.isdigit() else None,
        "workflows": [w.name for w in chosen.workflows],
    }
    if json_out:
        render.line(render.dumps(ready))
        return
    render.line(
        f"ledger ready: {chosen.ledger_url} (schema version {ready['schema_version']},"
        f" {len(chosen.workflows)} workflow{'' if len(chosen.workflows) == 1 else 's'})"
    )


@handles_errors
def run(
    once: Annotated[bool, typer.Option("--once", help="Process what is ready, then exit.")] = False,
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="all: discover and work; discover: list and register the landing area only;"
            " work: claim and run batches only (several processes may share one ledger).",
        ),
    ] = Role.all,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Run the pipeline: discovery, scheduler, engine, reaper. Exit 1 if any file FAILED;
    `--once` stopped by SIGINT/SIGTERM exits 128 + the signal number (130, 143)."""
    from ingestflow.entrypoints.cli.progress import progress_callback

    chosen = settings(config, env)
    pipeline = bootstrap.build_pipeline(chosen, watch=not once, role=role.value)
    try:
        forwarding = start_forwarding(chosen, pipeline.store)
        alerting = build_alerting(chosen, pipeline.store)
    except BaseException:
        pipeline.close()
        raise
    # Continuous runs evaluate alerts in their own thread every tick; `--once` does one
    # evaluation at the end (below).
    alert_thread = None if once else AlertThread(alerting, alert_interval(chosen))
    received: list[int] = []

    def _stop(signum: int, _frame: Any) -> None:
        received.append(signum)
        log.info(
            "received %s: finishing the file in flight, then stopping", signal.Signals(signum).name
        )
        pipeline.stop_event.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if alert_thread is not None:
            alert_thread.start()
        with (
            server_beside_run(chosen, pipeline.store),
            progress_callback(enabled=sys.stderr.isatty()) as on_file,
        ):
            summary = pipeline.run_once(on_file) if once else pipeline.run_forever(on_file)
    finally:
        try:
            if alert_thread is not None:
                alert_thread.stop()
            elif not received:
                _alert_once(alerting)
            if forwarding is not None:  # what this run produced reaches the sinks first
                forwarding.stop(chosen.metrics.flush_timeout)
        finally:
            pipeline.close()
    render.line(
        f"registered {summary.registered}, batches {summary.batches}, done {summary.done}, "
        f"failed {summary.failed}, retrying {summary.retried}, unrouted {summary.unrouted}"
    )
    if not summary.batches:
        for reason in summary.waiting:
            render.line(reason)
    if once and received:
        # A cron wrapper must be able to tell an interrupted run from a complete one.
        raise typer.Exit(128 + received[0])
    if summary.failed:
        raise typer.Exit(1)


def _alert_once(alerting: Alerting) -> None:
    try:
        result = alerting.run_pass()
    except Exception:  # alerts never change the run's outcome
        log.warning("alert evaluation failed", exc_info=True)
        return
    for name, error in result.failed.items():
        log.warning("notifier %s: %s (sent on the next run or `alerts check`)", name, error)


@handles_errors
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to run (default: a new temporary folder).")
    ] = None,
    files_count: Annotated[int, typer.Option("--files", min=1, help="CSV files to generate.")] = 60,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows per file.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
) -> None:
    """Generate realistic OHLCV files, run the pipeline end to end, print a summary."""
    from ingestflow.entrypoints.cli.demo import run_demo

    run_demo(directory, files_count, rows, seed)
