"""The `ingestflow` Typer app: global options, and the commands of each group registered.

Each command reads settings, calls bootstrap/services and renders; the commands live in one
module per group (ledger.py, run.py, query_command.py), everything printed goes through
render.py (text from files, keys and errors is never markup).
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from ingestflow.entrypoints.cli import (
    alerts_command,
    datadog_command,
    ledger,
    query_command,
    render,
)
from ingestflow.entrypoints.cli import metrics as metrics_commands
from ingestflow.entrypoints.cli import run as running
from ingestflow.entrypoints.cli import serve as serving
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt

app = typer.Typer(
    help="ingestflow: land files, track every one in a ledger, turn CSV into Parquet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """`ingestflow --config PATH --env NAME COMMAND` works as well as options after COMMAND."""
    # The commands read these variables (their options' envvar), so placing --config/--env
    # before the command name means the same as after it; an option after it still wins.
    if config is not None:
        os.environ["INGESTFLOW_CONFIG"] = str(config)
    if env is not None:
        os.environ["INGESTFLOW_ENV"] = env


for command in (
    running.init,
    running.setup,
    running.run,
    ledger.status,
    ledger.files,
    ledger.retry,
    ledger.history,
    ledger.workflows,
    ledger.unrouted,
    query_command.query,
    serving.serve,
    alerts_command.stale,
    running.demo,
):
    app.command()(command)
app.add_typer(metrics_commands.app, name="metrics")
app.add_typer(datadog_command.app, name="datadog")
app.add_typer(alerts_command.app, name="alerts")


class _SafeFormatter(logging.Formatter):
    """Log lines reach a terminal too: control characters in them are shown as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return render.safe(super().format(record))


def main() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    app()
