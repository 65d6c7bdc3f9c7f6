"""The composition root's metrics half: Settings -> sinks, forwarder, Prometheus collector.
Sink adapters are imported only when configured (the Datadog client is an optional extra)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ingestflow.adapters.processes import is_dead_local_owner, owner_id
from ingestflow.adapters.secrets import resolve_secret
from ingestflow.config.secrets import Secret, read_secret
from ingestflow.config.settings import Settings
from ingestflow.domain.errors import MissingExtraError
from ingestflow.domain.metrics import MetricsContext
from ingestflow.ports import MetricsSink, StatusStore
from ingestflow.services.forwarder_thread import ForwarderThread
from ingestflow.services.forwarding import Forwarder
from ingestflow.services.reaper import never_dead


def metrics_context(settings: Settings) -> MetricsContext:
    return MetricsContext(
        env=settings.metrics.env,
        prefixes={w.name: w.prefix for w in settings.workflows},
        folder_depth=settings.metrics.folder_depth,
    )


def datadog_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret:
    """The API key from `api_key_env`, `api_key_file`, `api_key_ssm` or `api_key_secret`
    (AWS stores are read once per process). Raises ConfigError naming the key."""
    datadog = settings.metrics.datadog
    assert datadog is not None
    return resolve_secret(datadog.api_key, os.environ if environ is None else environ)


def build_sinks(settings: Settings, environ: Mapping[str, str] | None = None) -> list[MetricsSink]:
    """The configured sinks, in a fixed order. Raises ConfigError for a missing API key."""
    metrics = settings.metrics
    sinks: list[MetricsSink] = []
    if metrics.datadog is not None:
        try:
            from ingestflow.adapters.metrics.datadog import DatadogSink
        except ImportError as exc:  # the datadog extra is not installed
            raise MissingExtraError("datadog", "[metrics.datadog]") from exc
        sinks.append(
            DatadogSink(
                datadog_api_key(settings, environ),
                metrics.datadog.base_url,
                tags=metrics.datadog.tags,
            )
        )
    if metrics.dogstatsd is not None:
        from ingestflow.adapters.metrics.dogstatsd import DogStatsDSink

        sinks.append(DogStatsDSink(metrics.dogstatsd.host, metrics.dogstatsd.port))
    if metrics.prometheus:
        from ingestflow.adapters.metrics.prometheus import PrometheusSink

        sinks.append(PrometheusSink())
    if metrics.jsonl is not None:
        from ingestflow.adapters.metrics.jsonl import JsonLinesSink

        sinks.append(JsonLinesSink(metrics.jsonl.path))
    return sinks


def build_forwarder(
    settings: Settings,
    store: StatusStore,
    sinks: list[MetricsSink] | None = None,
    environ: Mapping[str, str] | None = None,
    owner: str | None = None,
) -> Forwarder | None:
    """A forwarder over the configured sinks (None when there are none). `owner`: the lease
    owner to use instead of this process (`host:pid`); only leases then recover its sinks."""
    sinks = build_sinks(settings, environ) if sinks is None else sinks
    if not sinks:
        return None
    return Forwarder(
        store,
        sinks,
        metrics_context(settings),
        settings.workflows,
        settings.landing_bucket,
        owner or owner_id(),
        owner_is_dead=is_dead_local_owner if owner is None else never_dead,
    )


def start_forwarding(settings: Settings, store: StatusStore) -> ForwarderThread | None:
    """The forwarder running beside the pipeline (None without sinks)."""
    forwarder = build_forwarder(settings, store)
    if forwarder is None:
        return None
    thread = ForwarderThread(forwarder)
    thread.start()
    return thread


def server_token(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The server's bearer token (from `[server] token_env`), or None."""
    server = settings.server
    if server is None or server.token_env is None:
        return None
    environ = os.environ if environ is None else environ
    return read_secret("server.token_env", server.token_env, None, environ)


def build_server_app(
    settings: Settings,
    store: StatusStore,
    token: Secret | None,
    fold_on_scrape: bool,
) -> Any:
    """The server's app (/metrics, /healthz, the dashboard and /api/). `fold_on_scrape` (for
    `ingestflow serve`, where no pipeline forwards): each scrape first folds pending
    transitions into the Prometheus totals."""
    from ingestflow.adapters.metrics.prometheus import (
        LedgerCollector,
        PrometheusSink,
        ledger_registry,
    )
    from ingestflow.entrypoints.server import create_app
    from ingestflow.entrypoints.server.api import api_routes
    from ingestflow.entrypoints.server.web.login import login_routes
    from ingestflow.entrypoints.server.web.pages import page_routes

    collector = LedgerCollector(
        store, metrics_context(settings), settings.workflows, settings.landing_bucket
    )
    before_scrape = None
    if fold_on_scrape and settings.metrics.prometheus:
        forwarder = build_forwarder(settings, store, sinks=[PrometheusSink()])
        assert forwarder is not None

        def before_scrape() -> object:
            return forwarder.forward(max_batches=4)

    return create_app(
        store,
        ledger_registry(collector),
        token,
        before_scrape=before_scrape,
        routes=[
            *api_routes(store, settings),
            *page_routes(store, settings, signed_in=token is not None),
            *(login_routes(token) if token is not None else []),
        ],
    )
