"""`ingestflow` commands. Each one reads settings, calls bootstrap/services, renders output."""

from __future__ import annotations

import csv
import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ingestflow import bootstrap
from ingestflow.config import Settings, load_settings
from ingestflow.domain.errors import ConfigError, IngestflowError
from ingestflow.domain.status import Status, parse_status
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.init_template import TEMPLATE
from ingestflow.services import queries

app = typer.Typer(
    help="ingestflow: land files, track every one in a ledger, turn CSV into Parquet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("ingestflow")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default ./ingestflow.toml).",
        envvar="INGESTFLOW_CONFIG",
        show_envvar=True,
    ),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="Environment overlay to apply, e.g. prod for the env.prod table.",
        envvar="INGESTFLOW_ENV",
        show_envvar=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def _global_options(config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """`ingestflow --config PATH --env NAME COMMAND` works as well as options after COMMAND."""
    # The commands read these variables (their options' envvar), so placing --config/--env
    # before the command name means the same as after it; an option after it still wins.
    if config is not None:
        os.environ["INGESTFLOW_CONFIG"] = str(config)
    if env is not None:
        os.environ["INGESTFLOW_ENV"] = env


def handles_errors(func: F) -> F:
    """Config errors exit 2, other ingestflow errors exit 1, both with one readable line."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            render.console(stderr=True).print(f"[red]error:[/red] {exc}", markup=True)
            raise typer.Exit(2) from None
        except IngestflowError as exc:
            render.console(stderr=True).print(f"[red]error:[/red] {exc}", markup=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _settings(config: Path | None, env: str | None) -> Settings:
    return load_settings(config, env)


def _echo(text: str) -> None:
    typer.echo(text)


@app.command()
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
    _echo(f"wrote {target}")
    _echo(f"drop CSV files into {directory / 'landing' / 'ohlcv'} and run: ingestflow run --once")


@app.command()
@handles_errors
def run(
    once: Annotated[bool, typer.Option("--once", help="Process what is ready, then exit.")] = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Run the pipeline: discovery, scheduler, engine, reaper. Exit 1 if any file FAILED."""
    from ingestflow.entrypoints.cli.progress import progress_callback

    settings = _settings(config, env)
    pipeline = bootstrap.build_pipeline(settings, watch=not once)

    def _stop(signum: int, _frame: Any) -> None:
        log.info(
            "received %s: finishing the file in flight, then stopping", signal.Signals(signum).name
        )
        pipeline.stop_event.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with progress_callback(enabled=sys.stderr.isatty()) as on_file:
        summary = pipeline.run_once(on_file) if once else pipeline.run_forever(on_file)
    pipeline.close()
    _echo(
        f"registered {summary.registered}, batches {summary.batches}, done {summary.done}, "
        f"failed {summary.failed}, retrying {summary.retried}, unrouted {summary.unrouted}"
    )
    if summary.failed:
        raise typer.Exit(1)


@app.command()
@handles_errors
def status(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Number of files per status, and unrouted files."""
    store = bootstrap.open_store(_settings(config, env))
    data = queries.status_summary(store)
    if as_json:
        _echo(render.dumps(data))
        return
    rows = [(s, n) for s, n in data["counts"].items()] + [("unrouted", data["unrouted"])]
    render.console().print(render.table("files by status", ["status", "files"], rows))


@app.command()
@handles_errors
def files(
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="TODO, PROCESSING, DONE or FAILED.")
    ] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", help="Key prefix.")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n")] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Files in the ledger, oldest upload first."""
    try:
        wanted: Status | None = parse_status(status) if status else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    store = bootstrap.open_store(_settings(config, env))
    records = store.files(status=wanted, prefix=prefix, workflow=workflow, limit=limit)
    if as_json:
        _echo(render.dumps([render.file_json(r) for r in records]))
        return
    rows = [
        (r.key, r.status.value, r.workflow, r.attempts, render.iso(r.upload_time), r.error or "")
        for r in records
    ]
    cols = ["key", "status", "workflow", "attempts", "upload_time", "error"]
    render.console().print(render.table(None, cols, rows))


@app.command()
@handles_errors
def retry(
    keys: Annotated[list[str] | None, typer.Argument(help="Keys of FAILED files.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every FAILED file.")] = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Put FAILED files back to TODO (attempts reset)."""
    if not keys and not failed:
        raise typer.BadParameter("give one or more KEYs, or --failed")
    settings = _settings(config, env)
    store = bootstrap.open_store(settings)
    now = queries.now()
    done = store.retry(settings.landing_bucket, None if failed else keys, now)
    retried = {t.key for t in done}
    for key in keys or []:
        if key not in retried:
            record = store.get(settings.landing_bucket, key)
            state = record.status.value if record else "not in the ledger"
            render.console(stderr=True).print(f"skipped {key}: {state}", markup=False)
    _echo(f"{len(retried)} file(s) back to TODO")
    if keys and len(retried) < len(set(keys)):
        raise typer.Exit(1)


@app.command()
@handles_errors
def history(
    key: Annotated[str, typer.Argument(help="Key relative to the landing root.")],
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every status change of one file, oldest first."""
    settings = _settings(config, env)
    store = bootstrap.open_store(settings)
    items = [render.transition_json(t) for t in store.history(settings.landing_bucket, key)]
    if as_json:
        _echo(render.dumps(items))
        return
    if not items:
        raise IngestflowError(f"no history for {key!r} in bucket {settings.landing_bucket!r}")
    rows = [(i["at"], i["from"] or "(new)", i["to"], i["reason"], i["error"] or "") for i in items]
    render.console().print(render.table(key, ["at", "from", "to", "reason", "error"], rows))


@app.command()
@handles_errors
def workflows(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Configured workflows and their backlog."""
    settings = _settings(config, env)
    store = bootstrap.open_store(settings)
    items = queries.workflow_summaries(store, settings.workflows)
    if as_json:
        _echo(render.dumps(items))
        return
    cols = ["name", "prefix", "transform", "batch_size", "max_wait", "backlog", "oldest_age_s"]
    rows = [[i[c] for c in cols] for i in items]
    render.console().print(render.table("workflows", cols, rows))


@app.command()
@handles_errors
def unrouted(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Landing files that no workflow takes (never processed, never dropped silently)."""
    store = bootstrap.open_store(_settings(config, env))
    items = [
        {"key": u.key, "size": u.size, "seen_at": render.iso(u.seen_at), "reason": u.reason}
        for u in store.unrouted()
    ]
    if as_json:
        _echo(render.dumps(items))
        return
    rows = [(i["key"], i["size"], i["reason"]) for i in items]
    render.console().print(render.table("unrouted files", ["key", "size", "reason"], rows))


@app.command()
@handles_errors
def query(
    sql: Annotated[str, typer.Argument(help="SQL; each workflow's outputs are a table.")],
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Query the Parquet outputs with SQL (DuckDB); tables are named after workflows."""
    from ingestflow.adapters.engines.duckdb_query import run_query

    settings = _settings(config, env)
    columns, rows = run_query(settings.output_path, [w.name for w in settings.workflows], sql)
    if as_json:
        _echo(render.dumps([dict(zip(columns, r, strict=True)) for r in rows]))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        render.console().print(render.table(None, columns, rows))


@app.command()
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


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    app()
