"""The `[alerts]` table and its `[[alerts.notifiers]]` (secrets are named, never written here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.config.known import check_known
from ingestflow.config.schedules import cron, time_zone
from ingestflow.config.secrets import SecretRef, secret_ref
from ingestflow.config.values import duration, flag, integer, text
from ingestflow.domain.alerts import DEFAULT_MAX_RENOTIFY, DEFAULT_RENOTIFY
from ingestflow.domain.errors import ConfigError

ALERTS_KEYS = frozenset(
    {"renotify", "max_renotify", "report_cron", "timezone", "report_when_ok", "notifiers"}
)
NOTIFIER_TYPES = ("smtp", "webhook", "stdout", "sns")
# A secret of a notifier comes from one of <stem>_env, <stem>_ssm or <stem>_secret.
_AWS_SOURCES = ("env", "ssm", "secret")
NOTIFIER_KEYS: dict[str, frozenset[str]] = {
    "smtp": frozenset(
        {"name", "type", "host", "port", "security", "username", "from", "to", "verify"}
        | {f"password_{s}" for s in _AWS_SOURCES}
    ),
    "webhook": frozenset(
        {"name", "type", "url", "format"}
        | {f"{stem}_{s}" for stem in ("url", "secret") for s in _AWS_SOURCES}
    ),
    "stdout": frozenset({"name", "type"}),
    "sns": frozenset({"name", "type", "topic_arn"}),
}
# Standard topics only: a FIFO topic (".fifo") needs group and deduplication ids.
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
SECURITY = ("tls", "starttls", "none")
WEBHOOK_FORMATS = ("slack", "json")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")


@dataclass(frozen=True)
class NotifierSettings:
    """One `[[alerts.notifiers]]` table; `options` holds its type's keys (validated), its
    secrets as SecretRefs (`password`, `url_ref`, `secret`), never their values."""

    name: str
    type: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class AlertsSettings:
    renotify: float = DEFAULT_RENOTIFY
    max_renotify: int = DEFAULT_MAX_RENOTIFY
    report_cron: str = "0 7 * * *"
    timezone: str = "UTC"
    report_when_ok: bool = False
    notifiers: tuple[NotifierSettings, ...] = ()

    def notifier(self, name: str) -> NotifierSettings | None:
        return next((n for n in self.notifiers if n.name == name), None)


def parse_alerts(raw: Mapping[str, Any]) -> AlertsSettings:
    table = raw.get("alerts", {})
    if not isinstance(table, dict):
        raise ConfigError("alerts", "must be a table")
    check_known(table, "alerts", ALERTS_KEYS)
    notifiers = table.get("notifiers", [])
    if not isinstance(notifiers, list):
        raise ConfigError("alerts.notifiers", "must be an array of tables ([[alerts.notifiers]])")
    parsed = tuple(_notifier(n, i) for i, n in enumerate(notifiers))
    names = [n.name for n in parsed]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"alerts.notifiers.{name}", "notifier name is used twice")
    return AlertsSettings(
        renotify=duration(table.get("renotify", "4h"), "alerts.renotify", positive=True),
        max_renotify=integer(
            table.get("max_renotify", DEFAULT_MAX_RENOTIFY),
            "alerts.max_renotify",
            maximum=10_000,
            minimum=0,
        ),
        report_cron=cron(table.get("report_cron", "0 7 * * *"), "alerts.report_cron"),
        timezone=time_zone(table.get("timezone", "UTC"), "alerts.timezone"),
        report_when_ok=flag(table.get("report_when_ok", False), "alerts.report_when_ok"),
        notifiers=parsed,
    )


def _notifier(table: Any, index: int) -> NotifierSettings:
    where = f"alerts.notifiers[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name", "must be letters, digits, '_', '-' or '.'")
    where = f"alerts.notifiers.{name}"
    kind = table.get("type")
    if kind not in NOTIFIER_TYPES:
        raise ConfigError(f"{where}.type", f"must be one of {', '.join(NOTIFIER_TYPES)}")
    check_known(table, where, NOTIFIER_KEYS[kind])
    options = {k: v for k, v in table.items() if k not in ("name", "type")}
    if kind == "smtp":
        options = _smtp(options, where)
    elif kind == "webhook":
        options = _webhook(options, where)
    elif kind == "sns":
        options = _sns(options, where)
    return NotifierSettings(name, kind, options)


def _smtp(options: dict[str, Any], where: str) -> dict[str, Any]:
    security = options.get("security", "starttls")
    if security not in SECURITY:
        raise ConfigError(f"{where}.security", f"must be one of {', '.join(SECURITY)}")
    default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
    to = options.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to:
        raise ConfigError(f"{where}.to", "must be a list of e-mail addresses")
    for address in [*to, options.get("from", "")]:
        if not isinstance(address, str) or not _ADDRESS.match(address):
            key = "from" if address == options.get("from") else "to"
            raise ConfigError(f"{where}.{key}", f"{address!r} is not an e-mail address")
    username = options.get("username")
    if username is not None:
        text(username, f"{where}.username")
    password = _secret(options, "password", where)
    if username is not None and password is None:
        raise ConfigError(
            f"{where}.password_env", "is needed with username (or password_ssm, password_secret)"
        )
    return {
        "host": text(options.get("host"), f"{where}.host"),
        "port": integer(options.get("port", default_port), f"{where}.port", maximum=65535),
        "security": security,
        "username": username,
        "password_env": password.name if password and password.source == "env" else None,
        "password": password,
        "from": options["from"],
        "to": tuple(to),
        "verify": flag(options.get("verify", True), f"{where}.verify"),
    }


def _webhook(options: dict[str, Any], where: str) -> dict[str, Any]:
    url_keys = [k for k in ("url", "url_env", "url_ssm", "url_secret") if k in options]
    if len(url_keys) != 1:
        raise ConfigError(f"{where}.url", "set exactly one of url, url_env, url_ssm or url_secret")
    url_ref = _secret(options, "url", where)
    secret = _secret(options, "secret", where)
    url = options.get("url")
    if url is not None and not re.match(r"^https?://\S+$", text(url, f"{where}.url")):
        raise ConfigError(f"{where}.url", "must be an http(s) URL")
    fmt = options.get("format", "json")
    if fmt not in WEBHOOK_FORMATS:
        raise ConfigError(f"{where}.format", f"must be one of {', '.join(WEBHOOK_FORMATS)}")
    return {
        "url": url,
        "url_env": url_ref.name if url_ref and url_ref.source == "env" else None,
        "url_ref": url_ref,
        "format": fmt,
        "secret_env": secret.name if secret and secret.source == "env" else None,
        "secret": secret,
    }


def _sns(options: dict[str, Any], where: str) -> dict[str, Any]:
    arn = text(options.get("topic_arn"), f"{where}.topic_arn")
    if arn.endswith(".fifo"):
        raise ConfigError(f"{where}.topic_arn", "FIFO topics are not supported: use a standard one")
    if not SNS_TOPIC_ARN.match(arn):
        raise ConfigError(
            f"{where}.topic_arn",
            f"{arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<12-digit account>:<topic>)",
        )
    return {"topic_arn": arn}


def _secret(options: dict[str, Any], stem: str, where: str) -> SecretRef | None:
    return secret_ref(options, stem, where, Path("."), sources=_AWS_SOURCES)
