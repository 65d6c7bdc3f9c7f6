"""`ingestflow metrics` (the catalogue's values from the ledger), `metrics status` (each sink's
checkpoint and lag) and `metrics push` (deliver what is pending, then exit: for cron)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from ingestflow import bootstrap
from ingestflow.bootstrap_metrics import build_forwarder, metrics_context
from ingestflow.config.values import duration
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt, JsonOpt, handles_errors, settings
from ingestflow.services.forwarding import SinkReport, sink_reports

app = typer.Typer(
    help="Business metrics: values from the ledger, sinks' lag, delivery.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SinceOpt = Annotated[str, typer.Option("--since", help="Window ending now: 24h, 90m, 7d, 3600s.")]


@app.callback(invoke_without_command=True)
@handles_errors
def summary(
    ctx: typer.Context,
    since: SinceOpt = "24h",
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Files done/failed, bytes, processing time and end-to-end latency by workflow, folder
    and file type over a window, and the current backlog (what Datadog should show)."""
    if ctx.invoked_subcommand is not None:
        return
    from ingestflow.services.metric_report import metric_report

    window = duration(since, "--since", positive=True)
    chosen = settings(config, env)
    store = bootstrap.open_store(chosen, read_only=True)
    try:
        report = metric_report(
            store,
            metrics_context(chosen),
            chosen.workflows,
            chosen.landing_bucket,
            window,
            time.time(),
        )
    finally:
        store.close()
    if as_json:
        render.line(render.dumps(report.as_json()))
        return
    for title, columns, rows in report.tables():
        render.console().print(render.table(f"{title} (last {since})", columns, rows))


def _report_json(r: SinkReport) -> dict[str, Any]:
    return {
        "name": r.name,
        "checkpoint": r.checkpoint,
        "pending": r.pending,
        "last_error": r.last_error,
        "lag_seconds": None if r.lag_seconds is None else round(r.lag_seconds, 3),
        "dropped": r.dropped,
        "owner": r.owner,
    }


@app.command()
@handles_errors
def status(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Each configured sink: its checkpoint, pending transitions, lag and last error."""
    chosen = settings(config, env)
    store = bootstrap.open_store(chosen, read_only=True)
    try:
        reports = sink_reports(store, chosen.metrics.sinks, time.time())
        last = store.last_transition_id()
    finally:
        store.close()
    if as_json:
        data = {"stream_end": last, "sinks": [_report_json(r) for r in reports]}
        render.line(render.dumps(data))
        return
    if not reports:
        render.line("no metrics sinks configured (see [metrics.*] in the README)")
        return
    rows = [
        (
            r.name,
            r.checkpoint,
            r.pending,
            "-" if r.lag_seconds is None else f"{r.lag_seconds:.0f} s",
            r.dropped,
            r.last_error or "",
        )
        for r in reports
    ]
    columns = ["sink", "checkpoint", "pending", "lag", "dropped", "last error"]
    render.console().print(render.table(f"metrics sinks (stream end {last})", columns, rows))


@app.command()
@handles_errors
def push(
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up after this long (sinks that are down).")
    ] = "60s",
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Deliver every pending transition to the configured sinks, then exit (exit 1 when a
    sink could not take everything in time: the rest waits in the ledger)."""
    limit = duration(timeout, "--timeout", positive=True)
    chosen = settings(config, env)
    store = bootstrap.open_store(chosen)
    try:
        forwarder = build_forwarder(chosen, store)
        if forwarder is None:
            render.line("no metrics sinks configured (see [metrics.*] in the README)")
            return
        try:
            delivered = forwarder.flush(limit)
            reports = forwarder.reports()
        finally:
            forwarder.close()
    finally:
        store.close()
    for r in reports:
        state = "up to date" if not r.pending else f"{r.pending} pending"
        suffix = f" ({r.last_error})" if r.last_error and r.pending else ""
        render.line(f"{r.name}: checkpoint {r.checkpoint}, {state}{suffix}")
    if not delivered:
        raise typer.Exit(1)
