"""Parsing `[[transforms]]` tables into TransformSpecs (presets included)."""

from __future__ import annotations

from typing import Any

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


def _known_keys(table: dict[str, Any], where: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _type(value: Any, where: str) -> str:
    try:
        return normalise_type(str(value))
    except ValueError as exc:
        raise ConfigError(where, str(exc)) from None


def parse_transform(table: Any, where: str) -> TransformSpec:
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table")
    known = {"name", "columns", "derived", "drop", "keep_others", "delimiter"}
    for extra in sorted(set(table) - known):
        raise ConfigError(f"{where}.{extra}", f"unknown key (known: {', '.join(sorted(known))})")
    name = _str(table, "name", where)
    columns = []
    for i, col in enumerate(table.get("columns", [])):
        at = f"{where}.columns[{i}]"
        if not isinstance(col, dict):
            raise ConfigError(at, "must be a table with source, target, type")
        _known_keys(col, at, {"source", "target", "type", "format", "formats", "required"})
        source = _str(col, "source", at)
        formats = col.get("formats", col.get("format", ()))
        columns.append(
            ColumnRule(
                source=source,
                target=_str(col, "target", at, default=source),
                type=_type(col.get("type", "varchar"), f"{at}.type"),
                formats=_strings(formats, f"{at}.format") if formats else (),
                required=bool(col.get("required", True)),
            )
        )
    derived = []
    for i, d in enumerate(table.get("derived", [])):
        at = f"{where}.derived[{i}]"
        if not isinstance(d, dict):
            raise ConfigError(at, "must be a table with name and expr")
        _known_keys(d, at, {"name", "expr", "type"})
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
        delimiter=_str(table, "delimiter", where, default=","),
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
