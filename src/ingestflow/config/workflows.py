"""Parsing `[[workflows]]` tables into Workflow settings."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ingestflow.domain.errors import ConfigError
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import DEFAULT_INCLUDE, Workflow, parse_duration, parse_size

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def whole_number(value: Any) -> int:
    """An integer, or a float/string holding one; fractions and non-finite values refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"must be a whole number, got {value!r}")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "batch_size": whole_number,
    "max_batch_files": whole_number,
    "max_attempts": whole_number,
    "max_wait": parse_duration,
    "lease": parse_duration,
    "retry_backoff": parse_duration,
    "stale_after": parse_duration,
    "max_batch_bytes": parse_size,
}
_KNOWN = {"name", "prefix", "transform", "include", "options", *_PARSERS}


def _value(table: Mapping[str, Any], key: str, where: str) -> Any:
    raw = table[key]
    if isinstance(raw, bool):
        raise ConfigError(f"{where}.{key}", f"expected a number or duration, got {raw!r}")
    try:
        value = _PARSERS[key](raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}.{key}", str(exc)) from None
    positive = key not in ("max_wait", "retry_backoff")
    if (positive and value <= 0) or value < 0:
        raise ConfigError(f"{where}.{key}", f"must be {'positive' if positive else '>= 0'}")
    return value


def parse_workflow(table: Any, where: str, transforms: Mapping[str, TransformSpec]) -> Workflow:
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"{where}.name", "must be letters, digits and '_' (it names a table)")
    where = f"workflows.{name}"
    for key in table:
        if key not in _KNOWN:
            raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(_KNOWN))})")
    prefix = table.get("prefix")
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}.prefix", "must be a string such as 'ohlcv/'")
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # 'ohlcv' means the folder, not every key starting with 'ohlcv'
    if any(part in ("..", ".") for part in prefix.split("/")):
        raise ConfigError(f"{where}.prefix", "must not contain '.' or '..' segments")
    transform = table.get("transform", "ohlcv")
    if transform not in transforms:
        known = ", ".join(sorted(transforms))
        raise ConfigError(f"{where}.transform", f"unknown transform {transform!r} ({known})")
    include = table.get("include", list(DEFAULT_INCLUDE))
    if isinstance(include, str):
        include = [include]
    if not isinstance(include, list) or not include or not all(isinstance(p, str) for p in include):
        raise ConfigError(f"{where}.include", "must be a non-empty list of glob patterns")
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.options", "must be a table")
    values = {k: _value(table, k, where) for k in _PARSERS if k in table}
    return Workflow(
        name=name,
        prefix=prefix,
        transform=transform,
        include=tuple(include),
        options=MappingProxyType({str(k): str(v) for k, v in options.items()}),
        **values,
    )


def parse_workflows(raw: Any, transforms: Mapping[str, TransformSpec]) -> tuple[Workflow, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("workflows", "must be an array of tables ([[workflows]])")
    workflows = tuple(parse_workflow(t, f"workflows[{i}]", transforms) for i, t in enumerate(raw))
    names = [w.name for w in workflows]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"workflows.{name}", "workflow name is used twice")
    return workflows
