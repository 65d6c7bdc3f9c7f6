"""Typed scalar values of the configuration, each refused with a ConfigError naming its key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from ingestflow.domain.errors import ConfigError
from ingestflow.domain.keys import is_temporary
from ingestflow.domain.workflow import parse_duration, parse_size

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def whole_number(value: Any) -> int:
    """An integer, or a float/string holding one; fractions and non-finite values refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"must be a whole number, got {value!r}")


def parsed(value: Any, key: str, parse: Callable[[Any], T]) -> T:
    """`parse(value)`, its ValueError/TypeError turned into a ConfigError at `key`."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a number, duration or size, got {value!r}")
    try:
        return parse(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(key, str(exc)) from None


def duration(value: Any, key: str, *, minimum: float = 0.0, positive: bool = False) -> float:
    """A duration in seconds (at most 365 days), at least `minimum`, > 0 when `positive`."""
    seconds = parsed(value, key, parse_duration)
    if positive and seconds <= 0:
        raise ConfigError(key, f"must be positive, got {value!r}")
    if seconds < minimum:
        raise ConfigError(key, f"must be at least {minimum:g}s, got {value!r}")
    return seconds


def integer(value: Any, key: str, *, maximum: int, minimum: int = 1) -> int:
    """A whole number in [minimum, maximum]."""
    number = parsed(value, key, whole_number)
    if number < minimum:
        raise ConfigError(key, "must be positive" if minimum == 1 else f"must be >= {minimum}")
    if number > maximum:
        raise ConfigError(key, f"must be at most {maximum:,}")
    return number


def size(value: Any, key: str) -> int:
    """A positive number of bytes, at most 1 PiB."""
    return parsed(value, key, parse_size)


def flag(value: Any, key: str) -> bool:
    """A TOML boolean; "false" as text is refused rather than read as true."""
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def file_name(value: Any, key: str) -> str:
    """A plain file name (one path segment) that discovery does not ignore."""
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "must be a file name such as '_SUCCESS'")
    if value in (".", "..") or "/" in value or "\\" in value:
        raise ConfigError(key, f"must be a plain file name, not a path: {value!r}")
    if _CONTROL.search(value):
        raise ConfigError(key, f"must not contain control characters: {value!r}")
    if len(value.encode("utf-8")) > 255:
        raise ConfigError(key, "must be at most 255 bytes long (a file name)")
    if is_temporary(value):
        raise ConfigError(key, f"{value!r} is a hidden or temporary name, which discovery ignores")
    return value


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def text(value: Any, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
    """A non-empty string (matching `pattern`, described by `hint`, when given)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise ConfigError(key, f"{value!r} is not {hint}")
    return value


def env_name(value: Any, key: str) -> str:
    """The name of an environment variable (a secret is read from it, never written here)."""
    return text(value, key, _ENV_NAME, "an environment variable name")
