"""Unknown keys: one message shape everywhere, `unknown key 'x' (known: a, b, c)`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ingestflow.domain.errors import ConfigError


def unknown_key(key: str, known: Iterable[str]) -> str:
    """The problem text for a key that is not one of `known` (listed sorted)."""
    return f"unknown key {key!r} (known: {', '.join(sorted(known))})"


def check_known(table: Mapping[str, Any], where: str, known: Iterable[str]) -> None:
    """Raise a ConfigError at `<where>.<key>` for the first key of `table` not in `known`."""
    allowed = set(known)
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}" if where else key, unknown_key(key, allowed))
