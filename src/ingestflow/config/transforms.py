"""Parsing `[[transforms]]` tables into TransformSpecs (presets included)."""

from __future__ import annotations

from typing import Any

from ingestflow.config.formats import check_delimiter, check_format
from ingestflow.config.known import check_known
from ingestflow.domain.errors import ConfigError
from ingestflow.domain.transform import (
    PRESETS,
    ColumnRule,
    DerivedColumn,
    TransformSpec,
    normalise_type,
)
from ingestflow.domain.validation import transform_problems


def _str(table: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = table.get(name, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{name}", "must be a non-empty string")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, "must be a list of strings")
    return tuple(value)


def _tables(table: dict[str, Any], name: str, where: str) -> list[Any]:
    value = table.get(name, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{name}", f"must be an array of tables ([[transforms.{name}]])")
    return value


def _formats(col: dict[str, Any], where: str) -> tuple[str, ...]:
    """`formats = [...]` or `format = "..."` (not both), every one a valid strptime format."""
    if "format" in col and "formats" in col:
        raise ConfigError(f"{where}.formats", "set either format or formats, not both")
    key = "formats" if "formats" in col else "format"
    if key not in col:
        return ()
    formats = _strings(col[key], f"{where}.{key}")
    if not formats:
        raise ConfigError(f"{where}.{key}", "must name at least one format")
    for i, fmt in enumerate(formats):
        check_format(fmt, f"{where}.{key}" if key == "format" else f"{where}.{key}[{i}]")
    return formats


def _type(value: Any, where: str) -> str:
    try:
        return normalise_type(str(value))
    except ValueError as exc:
        raise ConfigError(where, str(exc)) from None


def parse_transform(table: Any, where: str) -> TransformSpec:
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    check_known(table, where, ("name", "columns", "derived", "drop", "keep_others", "delimiter"))
    name = _str(table, "name", where)
    columns = []
    for i, col in enumerate(_tables(table, "columns", where)):
        at = f"{where}.columns[{i}]"
        if not isinstance(col, dict):
            raise ConfigError(at, "must be a table with source, target, type")
        check_known(col, at, ("source", "target", "type", "format", "formats", "required"))
        source = _str(col, "source", at)
        required = col.get("required", True)
        if not isinstance(required, bool):
            raise ConfigError(f"{at}.required", f"must be true or false, got {required!r}")
        columns.append(
            ColumnRule(
                source=source,
                target=_str(col, "target", at, default=source),
                type=_type(col.get("type", "varchar"), f"{at}.type"),
                formats=_formats(col, at),
                required=required,
            )
        )
    derived = []
    for i, d in enumerate(_tables(table, "derived", where)):
        at = f"{where}.derived[{i}]"
        if not isinstance(d, dict):
            raise ConfigError(at, "must be a table with name and expr")
        check_known(d, at, ("name", "expr", "type"))
        dtype = d.get("type")
        derived.append(
            DerivedColumn(
                _str(d, "name", at),
                _str(d, "expr", at),
                _type(dtype, f"{at}.type") if dtype else None,
            )
        )
    keep = table.get("keep_others", True)
    if not isinstance(keep, bool):
        raise ConfigError(f"{where}.keep_others", "must be true or false")
    spec = TransformSpec(
        name=name,
        columns=tuple(columns),
        derived=tuple(derived),
        drop=_strings(table.get("drop", []), f"{where}.drop"),
        keep_others=keep,
        delimiter=check_delimiter(table.get("delimiter", ","), f"{where}.delimiter"),
    )
    problems = transform_problems(spec)
    if problems:
        raise ConfigError(where, "; ".join(problems))
    return spec


def parse_transforms(raw: Any) -> dict[str, TransformSpec]:
    specs = dict(PRESETS)
    if raw is None:
        return specs
    if not isinstance(raw, list):
        raise ConfigError("transforms", "must be an array of tables ([[transforms]])")
    for i, table in enumerate(raw):
        spec = parse_transform(table, f"transforms[{i}]")
        specs[spec.name] = spec
    return specs
