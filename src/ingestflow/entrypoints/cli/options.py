"""What every command shares: the common options, reading settings, and error handling."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ingestflow.config import Settings, load_settings
from ingestflow.config.notices import fresh_warnings
from ingestflow.domain.errors import ConfigError, IngestflowError
from ingestflow.entrypoints.cli import render

# Rows a table shows unless --limit says otherwise (JSON and CSV output have no default).
DEFAULT_LIMIT = 100

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
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        min=0,
        help=f"At most N rows (tables show {DEFAULT_LIMIT} by default; 0: all).",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def settings(config: Path | None, env: str | None) -> Settings:
    loaded = load_settings(config, env)
    for warning in fresh_warnings(loaded):
        render.error(warning, label="warning")
    return loaded


def table_limit(limit: int | None) -> int | None:
    """Rows a table shows: --limit, DEFAULT_LIMIT without it, None (all) for --limit 0."""
    if limit is None:
        return DEFAULT_LIMIT
    return limit or None


def handles_errors(func: F) -> F:
    """Every failure a user can cause ends as one readable line and an exit code, never a
    traceback: config errors exit 2, other ingestflow errors and OS errors (naming the path)
    exit 1, Ctrl-C exits 130, a closed stdout pipe (`| head`) exits 141 silently."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            render.error(exc)
            raise typer.Exit(2) from None
        except IngestflowError as exc:
            render.error(exc)
            raise typer.Exit(1) from None
        except BrokenPipeError:
            # Nothing more can be written; point stdout at /dev/null so the interpreter's
            # final flush does not complain either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:
            render.error(render.os_error(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
