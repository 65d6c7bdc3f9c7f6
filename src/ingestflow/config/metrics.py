"""The `[metrics]` table (with its sink tables) and the `[server]` table."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.config.known import check_known
from ingestflow.config.secrets import SecretRef, secret_ref
from ingestflow.config.sections import SECTION_KEYS
from ingestflow.config.values import duration, env_name, integer, text
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.metrics import DEFAULT_FOLDER_DEPTH, MAX_FOLDER_DEPTH

SINKS = ("datadog", "dogstatsd", "prometheus", "jsonl")
METRICS_KEYS = frozenset({"env", "folder_depth", "flush_timeout", *SINKS})
SINK_KEYS: dict[str, frozenset[str]] = {
    "datadog": frozenset(
        {"api_key_env", "api_key_file", "api_key_ssm", "api_key_secret"}
        | {"app_key_env", "site", "url", "tags"}
    ),
    "dogstatsd": frozenset({"host", "port"}),
    "prometheus": frozenset(),
    "jsonl": frozenset({"path"}),
}
SERVER_KEYS = SECTION_KEYS["server"]
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_\-./]*:[^,\s]+$")
_SITE = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$")


@dataclass(frozen=True)
class DatadogSettings:
    """Where and how to reach Datadog's HTTP API. The keys themselves are never stored here:
    only where they live (a variable, a file, an SSM parameter or a Secrets Manager secret)."""

    api_key_env: str = "DD_API_KEY"
    api_key_file: Path | None = None
    app_key_env: str = "DD_APP_KEY"
    site: str = "datadoghq.com"
    url: str | None = None
    tags: tuple[str, ...] = ()
    api_key_ssm: str | None = None
    api_key_secret: str | None = None

    @property
    def api_key(self) -> SecretRef:
        """Where the API key lives (exactly one source; DD_API_KEY when none is set)."""
        where = "metrics.datadog.api_key"
        if self.api_key_ssm is not None:
            return SecretRef(f"{where}_ssm", "ssm", self.api_key_ssm)
        if self.api_key_secret is not None:
            return SecretRef(f"{where}_secret", "secret", self.api_key_secret)
        if self.api_key_file is not None:
            return SecretRef(f"{where}_file", "file", str(self.api_key_file))
        return SecretRef(f"{where}_env", "env", self.api_key_env)

    @property
    def base_url(self) -> str:
        return (self.url or f"https://api.{self.site}").rstrip("/")


@dataclass(frozen=True)
class DogStatsDSettings:
    host: str = "127.0.0.1"
    port: int = 8125


@dataclass(frozen=True)
class JsonLinesSettings:
    path: str  # a file path, or "-" for standard output


@dataclass(frozen=True)
class MetricsSettings:
    env: str = "default"
    folder_depth: int = DEFAULT_FOLDER_DEPTH
    flush_timeout: float = 10.0
    datadog: DatadogSettings | None = None
    dogstatsd: DogStatsDSettings | None = None
    prometheus: bool = False
    jsonl: JsonLinesSettings | None = None

    @property
    def sinks(self) -> tuple[str, ...]:
        """The names of the configured sinks (forwarded ones and Prometheus)."""
        return tuple(name for name in SINKS if getattr(self, name))


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    token_env: str | None = None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _table(raw: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    table = raw.get(key)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{where}.{key}" if where else key, "must be a table")
    return table


def parse_metrics(raw: Mapping[str, Any], env_name: str | None, base: Path) -> MetricsSettings:
    """`[metrics]`; `env` defaults to the `--env` name, else 'default'."""
    table = _table(raw, "metrics", "") or {}
    check_known(table, "metrics", METRICS_KEYS)
    for sink in SINKS:
        sub = _table(table, sink, "metrics")
        if sub is not None:
            check_known(sub, f"metrics.{sink}", SINK_KEYS[sink])
    env = text(table.get("env", env_name or "default"), "metrics.env")
    return MetricsSettings(
        env=env,
        folder_depth=integer(
            table.get("folder_depth", DEFAULT_FOLDER_DEPTH),
            "metrics.folder_depth",
            maximum=MAX_FOLDER_DEPTH,
            minimum=0,
        ),
        flush_timeout=duration(table.get("flush_timeout", "10s"), "metrics.flush_timeout"),
        datadog=_datadog(_table(table, "datadog", "metrics"), base),
        dogstatsd=_dogstatsd(_table(table, "dogstatsd", "metrics")),
        prometheus=_table(table, "prometheus", "metrics") is not None,
        jsonl=_jsonl(_table(table, "jsonl", "metrics"), base),
    )


def _datadog(table: dict[str, Any] | None, base: Path) -> DatadogSettings | None:
    if table is None:
        return None
    where = "metrics.datadog"
    api_key = secret_ref(table, "api_key", where, base, default_env="DD_API_KEY")
    assert api_key is not None
    url = table.get("url")
    if url is not None:
        url = text(url, f"{where}.url")
        if not re.match(r"^https?://[^\s/]+", url):
            raise ConfigError(f"{where}.url", f"{url!r} is not an http(s) base URL")
    tags = table.get("tags", [])
    if not isinstance(tags, list):
        raise ConfigError(f"{where}.tags", "must be a list of 'key:value' strings")
    for tag in tags:
        text(tag, f"{where}.tags", _TAG, "a 'key:value' tag (the key starts with a letter)")
    return DatadogSettings(
        api_key_env=api_key.name if api_key.source == "env" else "DD_API_KEY",
        api_key_file=Path(api_key.name) if api_key.source == "file" else None,
        api_key_ssm=api_key.name if api_key.source == "ssm" else None,
        api_key_secret=api_key.name if api_key.source == "secret" else None,
        app_key_env=env_name(table.get("app_key_env", "DD_APP_KEY"), f"{where}.app_key_env"),
        site=text(table.get("site", "datadoghq.com"), f"{where}.site", _SITE, "a Datadog site"),
        url=url,
        tags=tuple(tags),
    )


def _dogstatsd(table: dict[str, Any] | None) -> DogStatsDSettings | None:
    if table is None:
        return None
    return DogStatsDSettings(
        host=text(table.get("host", "127.0.0.1"), "metrics.dogstatsd.host"),
        port=integer(table.get("port", 8125), "metrics.dogstatsd.port", maximum=65535),
    )


def _jsonl(table: dict[str, Any] | None, base: Path) -> JsonLinesSettings | None:
    if table is None:
        return None
    path = text(table.get("path"), "metrics.jsonl.path")
    if "\x00" in path:
        raise ConfigError("metrics.jsonl.path", "must not contain a NUL character")
    if path != "-":
        resolved = Path(path).expanduser()
        path = str(resolved if resolved.is_absolute() else (base / resolved).resolve())
    return JsonLinesSettings(path)


def parse_server(raw: Mapping[str, Any]) -> ServerSettings | None:
    """`[server]` (None when absent). A non-loopback host needs `token_env`."""
    table = _table(raw, "server", "")
    if table is None:
        return None
    check_known(table, "server", SERVER_KEYS)
    token_env = table.get("token_env")
    if token_env is not None:
        token_env = env_name(token_env, "server.token_env")
    server = ServerSettings(
        host=text(table.get("host", "127.0.0.1"), "server.host"),
        port=integer(table.get("port", 8765), "server.port", maximum=65535, minimum=0),
        token_env=token_env,
    )
    check_bind(server)
    return server


def check_bind(server: ServerSettings) -> None:
    """A server reachable from other machines needs a token (ConfigError otherwise)."""
    if not server.loopback and server.token_env is None:
        raise ConfigError(
            "server.host",
            f"{server.host!r} is reachable from other machines: set server.token_env (the"
            " environment variable holding a bearer token) or bind 127.0.0.1",
        )
