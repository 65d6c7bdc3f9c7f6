"""`ingestflow datadog push [--dry-run]`: the dashboard and monitors (deploy/datadog, shipped with
the package) created or updated through Datadog's API, idempotently."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from ingestflow.config.secrets import read_secret
from ingestflow.domain.errors import ConfigError
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt, handles_errors, settings

app = typer.Typer(
    help="Datadog dashboards and monitors as code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def default_folder() -> Path:
    """The dashboard and monitors shipped with ingestflow (the repository's deploy/datadog)."""
    return Path(str(resources.files("ingestflow") / "resources" / "datadog"))


@app.command()
@handles_errors
def push(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would change (reads, no writes).")
    ] = False,
    folder: Annotated[
        Path | None,
        typer.Option("--folder", help="dashboard.json and monitors/*.json (default: shipped)."),
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Create or update the dashboard and monitors; running it twice changes nothing. Objects
    are found by the ids stored next to the ledger, else by their marker; two objects with
    one marker are refused (exit 1)."""
    from ingestflow.adapters.metrics.datadog_objects import push_objects

    chosen = settings(config, env)
    datadog = chosen.metrics.datadog
    if datadog is None:
        raise ConfigError("metrics.datadog", "is not configured (the API keys and site)")
    from ingestflow.bootstrap_metrics import datadog_api_key

    api_key = datadog_api_key(chosen)  # env, file, SSM or Secrets Manager
    app_key = read_secret("metrics.datadog.app_key_env", datadog.app_key_env, None, os.environ)
    actions = push_objects(
        folder or default_folder(),
        datadog.base_url,
        api_key,
        app_key,
        chosen.ledger_path.parent / "datadog-objects.json",
        dry_run,
        chosen.metrics.env,
    )
    refused = False
    for action in actions:
        ident = f" (id {action.id})" if action.id is not None else ""
        detail = f" — {action.detail}" if action.detail else ""
        render.line(f"{action.kind} {action.key}: {action.action}{ident}{detail}")
        refused |= action.action == "refused"
    if refused:
        raise typer.Exit(1)
