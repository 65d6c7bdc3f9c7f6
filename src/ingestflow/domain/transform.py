"""Transforms as data: column rules, derived expressions, dropped columns.

An engine compiles a TransformSpec (DuckDB SQL today, Spark SQL later) so every engine gives the
same output. Output columns follow the input's order (renamed and cast in place, dropped columns
removed, other columns kept unchanged as text), then the derived columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

TYPE_ALIASES = {
    "double": "double",
    "float64": "double",
    "float": "float",
    "real": "float",
    "bigint": "bigint",
    "long": "bigint",
    "int64": "bigint",
    "integer": "integer",
    "int": "integer",
    "int32": "integer",
    "varchar": "varchar",
    "string": "varchar",
    "text": "varchar",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
DEFAULT_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
DEFAULT_DATE_FORMATS = ("%Y-%m-%d",)


def normalise_type(name: str) -> str:
    """Canonical type name, or ValueError listing the accepted ones."""
    try:
        return TYPE_ALIASES[name.strip().lower()]
    except KeyError:
        accepted = ", ".join(sorted(set(TYPE_ALIASES.values())))
        raise ValueError(f"unknown type {name!r}; accepted: {accepted}") from None


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """Take input column `source`, cast it to `type`, name it `target`."""

    source: str
    target: str
    type: str = "varchar"
    formats: tuple[str, ...] = ()
    required: bool = True

    def parse_formats(self) -> tuple[str, ...]:
        if self.formats:
            return self.formats
        if self.type == "date":
            return DEFAULT_DATE_FORMATS
        return DEFAULT_TIMESTAMP_FORMATS


@dataclass(frozen=True, slots=True)
class DerivedColumn:
    """A new column computed by an SQL expression over the output columns."""

    name: str
    expr: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class TransformSpec:
    name: str
    columns: tuple[ColumnRule, ...] = ()
    derived: tuple[DerivedColumn, ...] = ()
    drop: tuple[str, ...] = ()
    keep_others: bool = True
    delimiter: str = ","

    def with_options(self, options: Mapping[str, str]) -> TransformSpec:
        """Apply workflow options: `timestamp_format` replaces the parse formats of timestamp
        columns, `date_format` those of date columns, `delimiter` the field separator."""
        spec = self
        for option, col_type in (("timestamp_format", "timestamp"), ("date_format", "date")):
            fmt = options.get(option)
            if fmt:
                cols = tuple(
                    replace(c, formats=(fmt,)) if c.type == col_type else c for c in spec.columns
                )
                spec = replace(spec, columns=cols)
        if options.get("delimiter"):
            spec = replace(spec, delimiter=options["delimiter"])
        return spec

    def output_columns(self, header: tuple[str, ...]) -> list[str]:
        """Names of the output columns for an input with `header`."""
        by_source = {c.source: c for c in self.columns}
        out: list[str] = []
        for name in header:
            if name in by_source:
                out.append(by_source[name].target)
            elif name not in self.drop and self.keep_others:
                out.append(name)
        return out + [d.name for d in self.derived]

    def missing_columns(self, header: tuple[str, ...]) -> list[str]:
        present = set(header)
        return [c.source for c in self.columns if c.required and c.source not in present]

    def bound_to(self, header: tuple[str, ...]) -> TransformSpec:
        """This spec with its source and drop names matched to `header`: an exact match wins,
        else a unique case-insensitive one ('date' for 'Date', like Spark's default)."""
        by_folded: dict[str, list[str]] = {}
        for name in header:
            by_folded.setdefault(name.casefold(), []).append(name)
        present = set(header)

        def resolve(name: str) -> str:
            if name in present:
                return name
            found = by_folded.get(name.casefold(), [])
            return found[0] if len(found) == 1 else name

        columns = tuple(replace(c, source=resolve(c.source)) for c in self.columns)
        drop = tuple(resolve(d) for d in self.drop)
        return replace(self, columns=columns, drop=drop)


OHLCV = TransformSpec(
    name="ohlcv",
    columns=(
        ColumnRule("Open", "open_price", "double"),
        ColumnRule("High", "high_price", "double"),
        ColumnRule("Low", "low_price", "double"),
        ColumnRule("Close", "close_price", "double"),
        ColumnRule("Volume", "volume", "double"),
        ColumnRule("Date", "timestamp", "timestamp"),
    ),
    derived=(DerivedColumn("price_change", "close_price - open_price", "double"),),
)

PRESETS: dict[str, TransformSpec] = {OHLCV.name: OHLCV}
