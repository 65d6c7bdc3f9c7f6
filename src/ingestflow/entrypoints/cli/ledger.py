"""Ledger commands: status, files, history, retry, workflows, unrouted."""

from __future__ import annotations

from typing import Annotated

import typer

from ingestflow import bootstrap
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.status import Status, parse_status
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.options import (
    ConfigOpt,
    EnvOpt,
    JsonOpt,
    LimitOpt,
    handles_errors,
    settings,
    table_limit,
)
from ingestflow.services import queries

FILE_COLUMNS = ["key", "status", "workflow", "attempts", "upload_time", "error"]


@handles_errors
def status(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Number of files per status, and unrouted files."""
    store = bootstrap.open_store(settings(config, env), read_only=True)
    data = queries.status_summary(store)
    if as_json:
        render.line(render.dumps(data))
        return
    rows = [(s, n) for s, n in data["counts"].items()] + [("unrouted", data["unrouted"])]
    render.console().print(render.table("files by status", ["status", "files"], rows))


@handles_errors
def files(
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="TODO, PROCESSING, DONE or FAILED.")
    ] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", help="Key prefix.")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w")] = None,
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Files in the ledger, oldest upload first (JSON is streamed: any number of files)."""
    try:
        wanted: Status | None = parse_status(status) if status else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    store = bootstrap.open_store(settings(config, env), read_only=True)
    if as_json:
        records = queries.iter_files(store, wanted, prefix, workflow, limit or None)
        render.write_json_array(render.file_json(r) for r in records)
        return
    shown = table_limit(limit)
    found = list(queries.iter_files(store, wanted, prefix, workflow, shown and shown + 1))
    rows = [
        (r.key, r.status.value, r.workflow, r.attempts, render.iso(r.upload_time), r.error)
        for r in found[:shown]
    ]
    render.console().print(render.table(None, FILE_COLUMNS, rows))
    if shown is not None and len(found) > shown:
        total = queries.count_files(store, wanted, prefix, workflow)
        render.line(render.more_rows(shown, total, "files", "--limit N or --json"))


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
    found = settings(config, env)
    store = bootstrap.open_store(found)
    done = store.retry(found.landing_bucket, None if failed else keys, queries.now())
    retried = {t.key for t in done}
    for key in keys or []:
        if key not in retried:
            record = store.get(found.landing_bucket, key)
            state = record.status.value if record else "not in the ledger"
            render.error(f"{key}: {state}", label="skipped")
    render.line(f"{len(retried)} file(s) back to TODO")
    if keys and len(retried) < len(set(keys)):
        raise typer.Exit(1)


@handles_errors
def history(
    key: Annotated[str, typer.Argument(help="Key relative to the landing root.")],
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every status change of one file, oldest first."""
    found = settings(config, env)
    store = bootstrap.open_store(found, read_only=True)
    items = [render.transition_json(t) for t in store.history(found.landing_bucket, key)]
    if as_json:
        render.line(render.dumps(items))
        return
    if not items:
        raise IngestflowError(f"no history for {key!r} in bucket {found.landing_bucket!r}")
    rows = [(i["at"], i["from"] or "(new)", i["to"], i["reason"], i["error"]) for i in items]
    render.console().print(render.table(key, ["at", "from", "to", "reason", "error"], rows))


@handles_errors
def workflows(config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False) -> None:
    """Configured workflows and their backlog."""
    found = settings(config, env)
    store = bootstrap.open_store(found, read_only=True)
    items = queries.workflow_summaries(store, found.workflows)
    if as_json:
        render.line(render.dumps(items))
        return
    cols = ["name", "prefix", "transform", "batch_size", "max_wait", "backlog", "oldest_age_s"]
    rows = [[i[c] for c in cols] for i in items]
    render.console().print(render.table("workflows", cols, rows))


@handles_errors
def unrouted(
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Landing files that no workflow takes (never processed, never dropped silently)."""
    store = bootstrap.open_store(settings(config, env), read_only=True)
    shown = (limit or None) if as_json else table_limit(limit)
    found = store.unrouted(limit=shown)
    items = (
        {"key": u.key, "size": u.size, "seen_at": render.iso(u.seen_at), "reason": u.reason}
        for u in found
    )
    if as_json:
        render.write_json_array(items)
        return
    rows = [(i["key"], i["size"], i["reason"]) for i in items]
    render.console().print(render.table("unrouted files", ["key", "size", "reason"], rows))
    total = store.count_unrouted()
    if shown is not None and total > shown:
        render.line(render.more_rows(shown, total, "unrouted files", "--limit N or --json"))
