"""TransformSpec as plain JSON values, so a spec can travel in a batch manifest to a worker that
never read the configuration (the Glue job).

`spec_to_json` and `spec_from_json` are inverses: `spec_from_json(spec_to_json(s)) == s` for
every spec. Every field is written (defaults included), so a manifest means the same thing when a
later release changes a default; unknown fields are refused rather than ignored, so a manifest
from a newer writer fails loudly instead of being half-understood. Types are checked: a manifest
is data from outside the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestflow.domain.transform import ColumnRule, DerivedColumn, TransformSpec

JsonObject = dict[str, Any]


def spec_to_json(spec: TransformSpec) -> JsonObject:
    """The spec as a JSON-ready dict (lists, strings, booleans, None)."""
    return {
        "name": spec.name,
        "columns": [
            {
                "source": c.source,
                "target": c.target,
                "type": c.type,
                "formats": list(c.formats),
                "required": c.required,
            }
            for c in spec.columns
        ],
        "derived": [{"name": d.name, "expr": d.expr, "type": d.type} for d in spec.derived],
        "drop": list(spec.drop),
        "keep_others": spec.keep_others,
        "delimiter": spec.delimiter,
    }


def spec_from_json(data: Mapping[str, Any]) -> TransformSpec:
    """The spec `spec_to_json` wrote. ValueError naming the field for anything else."""
    _only(data, "spec", {"name", "columns", "derived", "drop", "keep_others", "delimiter"})
    columns = tuple(_column(c, f"spec.columns[{i}]") for i, c in enumerate(_list(data, "columns")))
    derived = tuple(_derived(d, f"spec.derived[{i}]") for i, d in enumerate(_list(data, "derived")))
    return TransformSpec(
        name=_str(data, "name", "spec"),
        columns=columns,
        derived=derived,
        drop=tuple(_strings(data, "drop", "spec")),
        keep_others=_bool(data, "keep_others", "spec"),
        delimiter=_str(data, "delimiter", "spec"),
    )


def _column(data: Any, where: str) -> ColumnRule:
    _only(data, where, {"source", "target", "type", "formats", "required"})
    return ColumnRule(
        source=_str(data, "source", where),
        target=_str(data, "target", where),
        type=_str(data, "type", where),
        formats=tuple(_strings(data, "formats", where)),
        required=_bool(data, "required", where),
    )


def _derived(data: Any, where: str) -> DerivedColumn:
    _only(data, where, {"name", "expr", "type"})
    col_type = data["type"]
    if col_type is not None and not isinstance(col_type, str):
        raise ValueError(f"{where}.type: expected a string or null")
    return DerivedColumn(
        name=_str(data, "name", where), expr=_str(data, "expr", where), type=col_type
    )


def _only(data: Any, where: str, allowed: set[str]) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    missing = sorted(allowed - set(data))
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")


def _str(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{where}.{name}: expected a string")
    return value


def _bool(data: Mapping[str, Any], name: str, where: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{name}: expected true or false")
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if not isinstance(value, list):
        raise ValueError(f"spec.{name}: expected a list")
    return value


def _strings(data: Mapping[str, Any], name: str, where: str) -> list[str]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}.{name}: expected a list of strings")
    return value
