"""`ingestflow serve`: the built-in server (the dashboard at `/`, its JSON API under `/api/`,
`/metrics`, `/healthz`) without the pipeline; and the same server inside `ingestflow run`
when `[server]` is configured."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

import typer

from ingestflow import bootstrap
from ingestflow.bootstrap_metrics import build_server_app, server_token
from ingestflow.config.metrics import ServerSettings, check_bind
from ingestflow.config.settings import Settings
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt, handles_errors, settings
from ingestflow.ports import StatusStore

log = logging.getLogger("ingestflow")


@handles_errors
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Serve the dashboard (/), its JSON API (/api/), /metrics (Prometheus) and /healthz until
    SIGINT/SIGTERM. The first line printed is `serving on http://HOST:PORT`. Binding beyond
    this machine needs [server] token_env."""
    from ingestflow.entrypoints.server import serve_forever

    chosen = settings(config, env)
    server = chosen.server or ServerSettings()
    server = replace(
        server,
        host=server.host if host is None else host,
        port=server.port if port is None else port,
    )
    check_bind(server)
    token = server_token(replace(chosen, server=server))
    store = bootstrap.open_store(chosen)
    try:
        app = build_server_app(chosen, store, token, fold_on_scrape=True)
        serve_forever(app, server.host, server.port, on_ready=_ready)
    finally:
        store.close()


def _ready(url: str) -> None:
    render.line(f"serving on {url}")
    sys.stdout.flush()  # the first line must reach a pipe now, not when the server stops


@contextmanager
def server_beside_run(chosen: Settings, store: StatusStore) -> Iterator[Any]:
    """The server of `[server]` while `run` runs (nothing without `[server]`)."""
    if chosen.server is None:
        yield None
        return
    from ingestflow.entrypoints.server import start_server

    check_bind(chosen.server)
    app = build_server_app(chosen, store, server_token(chosen), fold_on_scrape=False)
    running = start_server(app, chosen.server.host, chosen.server.port)
    log.info("serving on %s", running.url)
    try:
        yield running
    finally:
        running.stop()
