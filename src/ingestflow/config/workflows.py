"""Parsing `[[workflows]]` tables into Workflow settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ingestflow.config.formats import check_delimiter, check_format
from ingestflow.config.known import check_known
from ingestflow.config.schedules import cron, time_zone
from ingestflow.config.values import duration, file_name, flag, integer, size
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.transform import TransformSpec
from ingestflow.domain.workflow import DEFAULT_INCLUDE, Workflow

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Documented maxima: beyond them a value is a typo (and overflows SQLite integers).
MAX_BATCH_FILES = 1_000_000
MAX_ATTEMPTS = 1000
_INTEGERS = {
    "batch_size": MAX_BATCH_FILES,
    "max_batch_files": MAX_BATCH_FILES,
    "max_attempts": MAX_ATTEMPTS,
}
# Durations; True: must be > 0 (0 is allowed for the others).
_DURATIONS = {"max_wait": False, "lease": True, "retry_backoff": False, "stale_after": True}
MARKER_KEYS = ("ready_marker", "marker_required")
EXPECT_KEYS = ("expect_cron", "expect_window", "expect_min_files", "timezone")
OPTION_KEYS = ("timestamp_format", "date_format", "delimiter")
WORKFLOW_KEYS = frozenset(
    {"name", "prefix", "transform", "include", "options", "max_batch_bytes"}
    | set(_INTEGERS)
    | set(_DURATIONS)
    | set(MARKER_KEYS)
    | set(EXPECT_KEYS)
)


def _numbers(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, maximum in _INTEGERS.items():
        if key in table:
            values[key] = integer(table[key], f"{where}.{key}", maximum=maximum)
    for key, positive in _DURATIONS.items():
        if key in table:
            values[key] = duration(table[key], f"{where}.{key}", positive=positive)
    if "max_batch_bytes" in table:
        values["max_batch_bytes"] = size(table["max_batch_bytes"], f"{where}.max_batch_bytes")
    return values


def _options(table: Mapping[str, Any], where: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The engine options, and the marker keys written in `[workflows.options]` (with where
    each was written) so they can be read like workflow keys."""
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.options", "must be a table")
    at = f"{where}.options"
    check_known(options, at, (*OPTION_KEYS, *MARKER_KEYS))
    markers: dict[str, Any] = {}
    for key in MARKER_KEYS:
        if key in options:
            if key in table:
                raise ConfigError(f"{at}.{key}", f"also set as {where}.{key}; set it once")
            markers[key] = (options[key], f"{at}.{key}")
    engine: dict[str, str] = {}
    for key in OPTION_KEYS:
        if key in options:
            check = check_delimiter if key == "delimiter" else check_format
            engine[key] = check(options[key], f"{at}.{key}")
    return engine, markers


def _marker(table: Mapping[str, Any], where: str, markers: dict[str, Any]) -> dict[str, Any]:
    found = {k: (table[k], f"{where}.{k}") for k in MARKER_KEYS if k in table} | markers
    marker = None
    if "ready_marker" in found:
        marker = file_name(*found["ready_marker"])
    required = False
    if "marker_required" in found:
        value, key = found["marker_required"]
        required = flag(value, key)
        if required and marker is None:
            raise ConfigError(key, "needs ready_marker (the file name that completes a folder)")
    return {"ready_marker": marker, "marker_required": required}


def _prefix(table: Mapping[str, Any], where: str) -> str:
    prefix = table.get("prefix")
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}.prefix", "must be a string such as 'ohlcv/'")
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # 'ohlcv' means the folder, not every key starting with 'ohlcv'
    if any(part in ("..", ".") for part in prefix.split("/")):
        raise ConfigError(f"{where}.prefix", "must not contain '.' or '..' segments")
    return prefix


def parse_workflow(table: Any, where: str, transforms: Mapping[str, TransformSpec]) -> Workflow:
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"{where}.name", "must be letters, digits and '_' (it names a table)")
    where = f"workflows.{name}"
    check_known(table, where, WORKFLOW_KEYS)
    prefix = _prefix(table, where)
    transform = table.get("transform", "ohlcv")
    if transform not in transforms:
        known = ", ".join(sorted(transforms))
        raise ConfigError(f"{where}.transform", f"unknown transform {transform!r} ({known})")
    include = table.get("include", list(DEFAULT_INCLUDE))
    if isinstance(include, str):
        include = [include]
    if not isinstance(include, list) or not include or not all(isinstance(p, str) for p in include):
        raise ConfigError(f"{where}.include", "must be a non-empty list of glob patterns")
    options, markers = _options(table, where)
    return Workflow(
        name=name,
        prefix=prefix,
        transform=transform,
        include=tuple(include),
        options=MappingProxyType(options),
        **_numbers(table, where),
        **_marker(table, where, markers),
        **_expectation(table, where),
    )


def _expectation(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The `missing` rule's keys: a cron deadline, its window, the files expected, the zone."""
    values: dict[str, Any] = {
        "timezone": time_zone(table.get("timezone", "UTC"), f"{where}.timezone")
    }
    if "expect_cron" in table:
        values["expect_cron"] = cron(table["expect_cron"], f"{where}.expect_cron")
    elif any(k in table for k in ("expect_window", "expect_min_files")):
        key = "expect_window" if "expect_window" in table else "expect_min_files"
        raise ConfigError(f"{where}.{key}", "needs expect_cron (the deadline, cron syntax)")
    if "expect_window" in table:
        values["expect_window"] = duration(
            table["expect_window"], f"{where}.expect_window", positive=True
        )
    if "expect_min_files" in table:
        values["expect_min_files"] = integer(
            table["expect_min_files"], f"{where}.expect_min_files", maximum=MAX_BATCH_FILES
        )
    return values


def parse_workflows(raw: Any, transforms: Mapping[str, TransformSpec]) -> tuple[Workflow, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("workflows", "must be an array of tables ([[workflows]])")
    workflows = tuple(parse_workflow(t, f"workflows[{i}]", transforms) for i, t in enumerate(raw))
    by_name: dict[str, Workflow] = {}
    by_prefix: dict[str, Workflow] = {}
    for wf in workflows:
        if by_name.setdefault(wf.name, wf) is not wf:
            raise ConfigError(f"workflows.{wf.name}", "workflow name is used twice")
        first = by_prefix.setdefault(wf.prefix, wf)
        if first is not wf:
            raise ConfigError(
                f"workflows.{wf.name}.prefix",
                f"workflows {first.name!r} and {wf.name!r} both have the prefix {wf.prefix!r} "
                "(a key would belong to either; give each its own folder)",
            )
    return workflows
