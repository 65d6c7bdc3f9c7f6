"""Cron expressions and IANA time zones in the configuration, checked when it is read."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingestflow.domain.errors import ConfigError


def cron(value: Any, key: str) -> str:
    """A cron expression (5 fields, e.g. '0 6 * * 1-5'), normalised."""
    from ingestflow.domain.cron import CronSchedule

    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a cron expression such as '0 6 * * 1-5'")
    try:
        return str(CronSchedule.parse(value))
    except ValueError as exc:
        raise ConfigError(key, f"{value!r} is not a cron expression: {exc}") from None


def time_zone(value: Any, key: str) -> str:
    """An IANA time zone name such as 'Europe/Paris' (or 'UTC')."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be an IANA time zone such as 'Europe/Paris'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key, f"{value!r} is not a known IANA time zone") from None
    return value
