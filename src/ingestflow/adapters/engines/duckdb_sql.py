"""Compile a TransformSpec into DuckDB SQL for one input file."""

from __future__ import annotations

from ingestflow.domain.transform import ColumnRule, TransformSpec

_SQL_TYPES = {
    "double": "DOUBLE",
    "float": "FLOAT",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "varchar": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_csv_sql(path: str, header: tuple[str, ...], compression: str, delimiter: str) -> str:
    """A strict reader: every column VARCHAR (no type sniffing), casts happen in SQL."""
    columns = ", ".join(f"{literal(h)}: 'VARCHAR'" for h in header)
    return (
        f"read_csv({literal(path)}, header = true, auto_detect = false, "
        f"columns = {{{columns}}}, delim = {literal(delimiter)}, quote = '\"', escape = '\"', "
        f"compression = {literal(compression)})"
    )


def formats_sql(rule: ColumnRule) -> str:
    return "[" + ", ".join(literal(f) for f in rule.parse_formats()) + "]"


def cast_sql(rule: ColumnRule, *, strict: bool) -> str:
    """Expression converting text column `rule.source` to `rule.type`. Strict casts raise on a
    bad value (fast path); non-strict ones give NULL (used to locate the bad value)."""
    col = ident(rule.source)
    if rule.type == "varchar":
        return col
    value = f"NULLIF(trim({col}), '')"
    if rule.type in ("timestamp", "date"):
        fn = "strptime" if strict else "try_strptime"
        expr = f"{fn}({value}, {formats_sql(rule)})"
        return f"CAST({expr} AS DATE)" if rule.type == "date" else expr
    cast = "CAST" if strict else "TRY_CAST"
    return f"{cast}({value} AS {_SQL_TYPES[rule.type]})"


def select_sql(spec: TransformSpec, source: str, header: tuple[str, ...]) -> str:
    """SELECT producing the output columns of `spec` from `source` (a read_csv call)."""
    by_source = {c.source: c for c in spec.columns}
    items: list[str] = []
    for name in header:
        rule = by_source.get(name)
        if rule is not None:
            items.append(f"{cast_sql(rule, strict=True)} AS {ident(rule.target)}")
        elif name not in spec.drop and spec.keep_others:
            items.append(ident(name))
    inner = f"SELECT {', '.join(items)} FROM {source}"
    if not spec.derived:
        return inner
    derived = ", ".join(
        f"CAST(({d.expr}) AS {_SQL_TYPES[d.type]}) AS {ident(d.name)}"
        if d.type
        else f"({d.expr}) AS {ident(d.name)}"
        for d in spec.derived
    )
    return f"SELECT *, {derived} FROM ({inner})"


def first_bad_value_sql(rule: ColumnRule, source: str) -> str:
    """Find the first row whose `rule.source` value does not convert: (row number, value)."""
    col = ident(rule.source)
    return (
        f"SELECT rn, v FROM (SELECT row_number() OVER () AS rn, {col} AS v, "
        f"{cast_sql(rule, strict=False)} AS parsed FROM {source}) "
        "WHERE v IS NOT NULL AND trim(v) <> '' AND parsed IS NULL ORDER BY rn LIMIT 1"
    )
