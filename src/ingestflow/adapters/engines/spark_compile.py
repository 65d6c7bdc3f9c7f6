"""Compile a TransformSpec into Spark column expressions, with DuckDB's semantics.

The reader gives every column as text (explicit schema, no inference); each rule then parses
its column with a `try_` function, so a bad value never raises mid-job nor becomes a silent
null: every rule also yields an `ok` flag (null, or parsed), and the engine refuses a file
with any row whose flags are not all true. What is accepted follows `duckdb_sql`:

- null: an empty field and the markers `null` / `NULL` (quoted or not), for every type;
- double/float: decimal or scientific notation, surrounding spaces allowed, finite values
  only (`inf`, `nan` and values beyond the type's range are refused);
- integer/bigint: whole numbers only (`3.5`, `1e3` refused), within the type's range;
- boolean: true/false, t/f, 1/0, yes/no, y/n in any case, no surrounding spaces;
- timestamp/date: trimmed, parsed with the rule's strptime formats (first match wins), a
  whitespace-only value is null; timestamps are wall-clock (TIMESTAMP_NTZ), like DuckDB's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingestflow.domain.transform import ColumnRule, DerivedColumn, TransformSpec

if TYPE_CHECKING:
    from pyspark.sql import Column

SPARK_TYPES = {
    "double": "double",
    "float": "float",
    "bigint": "bigint",
    "integer": "int",
    "varchar": "string",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp_ntz",
}
NULL_MARKERS = ("", "null", "NULL")
_DECIMAL = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_WHOLE = r"^\s*([+-]?[0-9]+)\s*$"
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
# strptime directive -> (Java pattern letters, numeric)
_DIRECTIVES = {
    "Y": ("yyyy", True),
    "y": ("yy", True),
    "m": ("M", True),
    "d": ("d", True),
    "H": ("H", True),
    "I": ("h", True),
    "M": ("m", True),
    "S": ("s", True),
    "f": ("SSSSSS", True),
    "j": ("D", True),
    "b": ("MMM", False),
    "B": ("MMMM", False),
    "a": ("EEE", False),
    "A": ("EEEE", False),
    "p": ("a", False),
}
_PLAIN = set(" -/:.,_;")
_VARCHAR = re.compile(r"\bVARCHAR\b(?!\s*\()", re.IGNORECASE)


class UnsupportedFormatError(ValueError):
    """A strptime format this engine cannot translate to a Spark pattern."""


def java_pattern(fmt: str) -> str:
    """The Spark (java.time) pattern for strptime format `fmt`. Numeric fields take 1-2 digits
    like DuckDB's strptime, except next to another numeric field (`%Y%m%d`), where they take
    exactly two (java.time's adjacent value parsing)."""
    tokens: list[tuple[str, bool, bool]] = []  # (text, is_field, numeric)
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            i += 2
            if code == "%":
                tokens.append(("%", False, False))
                continue
            if code not in _DIRECTIVES:
                raise UnsupportedFormatError(f"the spark engine cannot parse %{code} in {fmt!r}")
            letters, numeric = _DIRECTIVES[code]
            tokens.append((letters, True, numeric))
        else:
            tokens.append((fmt[i], False, False))
            i += 1
    out: list[str] = []
    for n, (text, is_field, numeric) in enumerate(tokens):
        if not is_field:
            out.append(text if text in _PLAIN else "'" + text.replace("'", "''") + "'")
            continue
        if numeric and len(text) == 1:
            before = n > 0 and tokens[n - 1][2]
            after = n + 1 < len(tokens) and tokens[n + 1][2]
            text = text * 2 if before or after else text
        out.append(text)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Check:
    """One validity flag: `rule` is the column rule it checks, or None for a derived column."""

    name: str
    rule: ColumnRule | None
    derived: DerivedColumn | None = None


def _functions() -> Any:
    from pyspark.sql import functions

    return functions


def parse(rule: ColumnRule, raw: Column) -> tuple[Column, Column]:
    """(parsed value, ok flag) for the text column `raw` under `rule`."""
    F = _functions()
    value = F.when(~raw.isin(*NULL_MARKERS), raw)  # null stays null
    if rule.type == "varchar":
        return value, F.lit(True)
    if rule.type in ("double", "float"):
        number = F.when(value.rlike(_DECIMAL), F.trim(value).try_cast(SPARK_TYPES[rule.type]))
        finite = ~F.isnan(number) & (F.abs(number) < F.lit(float("inf")))
        return F.when(finite, number), value.isNull() | finite
    if rule.type in ("integer", "bigint"):
        digits = F.regexp_extract(value, _WHOLE, 1)
        number = F.when(digits != "", digits.try_cast(SPARK_TYPES[rule.type]))
        return number, value.isNull() | number.isNotNull()
    if rule.type == "boolean":
        lower = F.lower(value)
        flag = F.when(lower.isin(*_TRUE), F.lit(True)).when(lower.isin(*_FALSE), F.lit(False))
        return flag, value.isNull() | flag.isNotNull()
    text = F.trim(value)
    text = F.when(text != "", text)
    stamps = [F.try_to_timestamp(text, F.lit(java_pattern(f))) for f in rule.parse_formats()]
    stamp = stamps[0] if len(stamps) == 1 else F.coalesce(*stamps)
    parsed = stamp.cast("date") if rule.type == "date" else stamp.cast("timestamp_ntz")
    return parsed, text.isNull() | parsed.isNotNull()


def derived_expr(d: DerivedColumn) -> tuple[Column, Column]:
    """(value, ok flag) of a derived column over the output columns; a double/float result
    must be finite (arithmetic on finite inputs can still overflow)."""
    F = _functions()
    expr = F.expr(f"({_VARCHAR.sub('STRING', d.expr)})")
    if not d.type:
        return expr, F.lit(True)
    value = expr.cast(SPARK_TYPES[d.type])
    if d.type not in ("double", "float"):
        return value, F.lit(True)
    finite = ~F.isnan(value) & (F.abs(value) < F.lit(float("inf")))
    return value, value.isNull() | finite


def reader_names(header: tuple[str, ...]) -> list[str]:
    """Positional names for the reader's columns (header names may hold dots or backticks)."""
    return [f"_c{i}" for i in range(len(header))]


def outputs(
    spec: TransformSpec, header: tuple[str, ...], frame: Any, extra: tuple[str, ...] = ()
) -> tuple[Any, list[Check]]:
    """`frame` (positional text columns, see `reader_names`, plus `extra` passed through)
    turned into the spec's output columns, then `extra`, then one `__okN` flag per check."""
    F = _functions()
    spec = spec.bound_to(header)
    by_source = {c.source: c for c in spec.columns}
    items: list[Column] = []
    flags: list[Column] = []
    checks: list[Check] = []
    for name, raw_name in zip(header, reader_names(header), strict=True):
        raw = F.col(raw_name)
        rule = by_source.get(name)
        if rule is not None:
            value, ok = parse(rule, raw)
            items.append(value.alias(rule.target))
            if rule.type != "varchar":
                flags.append(F.coalesce(ok, F.lit(False)).alias(f"__ok{len(checks)}"))
                checks.append(Check(rule.source, rule))
        elif name not in spec.drop and spec.keep_others:
            items.append(F.when(~raw.isin(*NULL_MARKERS), raw).alias(name))
    passed = [F.col(e) for e in extra]
    selected = frame.select(*items, *passed, *flags)
    if not spec.derived:
        return selected, checks
    derived: list[Column] = []
    for d in spec.derived:
        value, ok = derived_expr(d)
        derived.append(value.alias(d.name))
        if d.type in ("double", "float"):
            flags.append(F.coalesce(ok, F.lit(False)).alias(f"__ok{len(checks)}"))
            checks.append(Check(d.name, None, d))
    kept = [F.col(f"`{n}`") for n in selected.columns[: len(items)]]
    old_flags = [F.col(n) for n in selected.columns[len(items) + len(extra) :]]
    new_flags = flags[len(old_flags) :]
    return selected.select(*kept, *derived, *passed, *old_flags, *new_flags), checks
