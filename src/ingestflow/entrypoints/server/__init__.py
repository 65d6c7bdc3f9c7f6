"""ingestflow's HTTP server: the dashboard, `/api/`, `/metrics` and `/healthz`, served by
uvicorn in the foreground (`ingestflow serve`) or in a thread (`ingestflow run` with
`[server]`)."""

from ingestflow.entrypoints.server.app import create_app
from ingestflow.entrypoints.server.runner import RunningServer, serve_forever, start_server

__all__ = ["RunningServer", "create_app", "serve_forever", "start_server"]
