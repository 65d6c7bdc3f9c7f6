"""The composition root for the Lambda handlers (ingestflow.entrypoints.aws_lambda): what one
execution environment builds at its first invocation (a cold start) and reuses after it.

Configuration: `INGESTFLOW_CONFIG` names the TOML file packaged in the image, and individual
`INGESTFLOW_<SECTION>__<KEY>` variables override its values (the same loader as the CLI), so
one image serves every environment (table prefix, buckets, state machine from Terraform).
Secrets (the Datadog API key, an SMTP password) are read from SSM Parameter Store or Secrets
Manager once per cold start, as the config names them (`api_key_ssm`, `password_secret`).

Owners: a Lambda environment is `lambda:<log stream>` (unique per environment); no
environment can tell whether another is alive, so only leases recover batches and sinks.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, cast

from ingestflow.bootstrap import landing_store, open_store
from ingestflow.bootstrap_aws import s3_client, s3_output_room, stepfunctions_engine
from ingestflow.config import report_warnings
from ingestflow.config.loader import load_settings
from ingestflow.config.settings import Settings
from ingestflow.domain.errors import ConfigError
from ingestflow.ports import BatchStarter, StatusStore
from ingestflow.services.alerting import Alerting
from ingestflow.services.discovery import Discovery
from ingestflow.services.forwarding import Forwarder

log = logging.getLogger(__name__)

PACKAGED_CONFIG = "deploy/lambda/ingestflow.toml"
"""The config file the image packages as /var/task/ingestflow.toml (the repository's path)."""
DEPLOYMENT_VARIABLES = (
    "INGESTFLOW_CONFIG",
    "INGESTFLOW_LANDING__URL",
    "INGESTFLOW_OUTPUT__URL",
    "INGESTFLOW_LEDGER__URL",
    "INGESTFLOW_ENGINE__STATE_MACHINE_ARN",
    "INGESTFLOW_METRICS__ENV",
    "INGESTFLOW_METRICS__DATADOG__API_KEY_SSM",
    "INGESTFLOW_ALERTS__NOTIFIERS__OPS__TOPIC_ARN",
)
"""What a deployment sets on every function: the config file, and the per-environment values
that replace the packaged file's placeholders (deploy/terraform sets exactly these; tested)."""


def lambda_owner(environ: Mapping[str, str]) -> str:
    """This execution environment as a lease owner."""
    stream = environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or f"{os.getpid()}"
    return f"lambda:{environ.get('AWS_LAMBDA_FUNCTION_NAME', 'ingestflow')}:{stream}"


class LambdaRuntime:
    """Settings and the adapters and services the handlers need, each made on first use."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        if not self.environ.get("INGESTFLOW_CONFIG"):
            raise ConfigError(
                "config", "INGESTFLOW_CONFIG must name the config file packaged with the function"
            )
        self.settings: Settings = load_settings(environ=self.environ)
        report_warnings(self.settings, sys.stderr)
        self.owner = lambda_owner(self.environ)

    @cached_property
    def store(self) -> StatusStore:
        return open_store(self.settings)

    @cached_property
    def discovery(self) -> Discovery:
        if self.settings.landing_url is None:
            raise ConfigError("landing.url", "the register function needs an s3:// landing URL")
        room = s3_output_room(self.settings) if self.settings.output_url else 1024
        return Discovery(
            self.store,
            landing_store(self.settings),
            self.settings.workflows,
            self.settings.settle,
            max_output_path=room,
        )

    @cached_property
    def starter(self) -> BatchStarter:
        if self.settings.engine != "stepfunctions":
            raise ConfigError(
                "engine.name", 'the schedule function needs [engine] name = "stepfunctions"'
            )
        return cast(BatchStarter, stepfunctions_engine(self.settings))

    @cached_property
    def s3(self) -> Any:
        """A boto3 S3 client (the batch and results manifests)."""
        return s3_client()

    @cached_property
    def forwarder(self) -> Forwarder | None:
        from ingestflow.bootstrap_metrics import build_forwarder

        return build_forwarder(self.settings, self.store, environ=self.environ, owner=self.owner)

    @cached_property
    def alerting(self) -> Alerting:
        from ingestflow.bootstrap_alerts import build_alerting

        return build_alerting(self.settings, self.store, self.environ, owner=self.owner)

    def workflow(self, name: object) -> Any:
        """The configured workflow called `name`; ConfigError naming the known ones."""
        for w in self.settings.workflows:
            if w.name == name:
                return w
        known = ", ".join(w.name for w in self.settings.workflows)
        raise ConfigError("workflow", f"no workflow named {name!r} (known: {known})")


_RUNTIME: list[LambdaRuntime] = []
_LOCK = threading.Lock()


def runtime() -> LambdaRuntime:
    """The environment's runtime, made at the first invocation."""
    with _LOCK:
        if not _RUNTIME:
            _RUNTIME.append(LambdaRuntime())
        return _RUNTIME[0]


def reset_runtime() -> None:
    """Forget the runtime (tests: a new configuration, as in a new execution environment)."""
    with _LOCK:
        while _RUNTIME:
            made = _RUNTIME.pop()
            if "store" in made.__dict__:
                made.store.close()


def time_left(context: Any, reserve: float = 10.0) -> Callable[[], float]:
    """Seconds of the invocation left, less `reserve` for the answer (inf without context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: float("inf")
    return lambda: remaining() / 1000.0 - reserve
