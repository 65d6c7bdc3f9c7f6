"""A fast path for large plain CSV files on Polars that gives only results DuckDB would give.

`convert_fast` converts one file in one streaming Polars pass (bounded memory) into the Parquet
file DuckDB's strict path writes: same columns, order, types, values, row order and nulls. It
returns the row count only when the pass *proves* that equality; otherwise it removes its output
and returns None, and the caller runs the DuckDB path (which also words the error of a bad
file). It never raises for bad data. The proof is a set of counts computed in the same pass:

- row shape: Polars refuses a long row (`truncate_ragged_lines=False`) but pads a short one with
  nulls, and a short row always leaves the *last* column null: no null there, no short row;
- casts: a non-null source value with a null result was refused (integers refuse fractions,
  timestamps must match a format's strict pattern, booleans DuckDB's words); numbers are finite;
- what the two readers split differently is refused: a carriage return outside CRLF line ends,
  line breaks inside text, a header line with an open quote, very long lines, gzip input.

Two cases take a second pass, only for the files that need it: Polars reads a blank number as
null where DuckDB refuses it, and refuses ' 1.5' where DuckDB reads 1.5, so a typed number
column with nulls (or one that fails to parse) is read again as text and cast with checks; and
timestamps are trimmed of spaces (DuckDB's trim) only when a value failed untrimmed.
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingestflow.adapters.engines.inputs import CsvInput
from ingestflow.domain.transform import TransformSpec

NULL_VALUES = ["", "null", "NULL"]  # DuckDB's nullstr, quoted or not
COMPRESSIONS = {"snappy", "zstd", "gzip", "lz4", "uncompressed"}  # DuckDB's spelling
ROW_GROUP_ROWS = 122_880  # DuckDB's Parquet row group size
MAX_TEXT_BYTES = 1 << 20  # text per line, well under DuckDB's 2 MiB line limit
_BARE_CR = re.compile(rb"\r(?!\n)")
# strptime directive -> the only text both engines read, and read the same way: fixed-width
# digits (Polars also reads ' 1', '+1', ...), ranges and calendar checked by both, except that
# Polars reads second 60 as a leap second.
_FIELDS = {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}", "%H": "[0-9]{2}",
           "%M": "[0-9]{2}", "%S": "[0-5][0-9]"}  # fmt: skip
_BOOLEANS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
             "false": False, "f": False, "no": False, "n": False, "0": False}  # fmt: skip
_ARROW = {"varchar": pa.string(), "double": pa.float64(), "float": pa.float32(),
          "bigint": pa.int64(), "integer": pa.int32(), "boolean": pa.bool_(),
          "date": pa.date32(), "timestamp": pa.timestamp("us")}  # fmt: skip
_TOKEN = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"]|"")+)"|([-+*()]))')


def convert_fast(
    path: str | Path, csv_input: CsvInput, spec: TransformSpec, tmp_target: Path, compression: str
) -> int | None:
    """Convert `path` (inspected as `csv_input`) with `spec` into the Parquet file `tmp_target`
    (`compression` spelled as for DuckDB). Returns the rows written, or None when the result
    could differ from DuckDB's (unsupported spec, suspicious bytes, a value DuckDB may refuse,
    Polars not installed); then nothing is left at `tmp_target`."""
    try:
        import polars as pl
    except ImportError:
        return None
    header, spec = csv_input.header, spec.bound_to(csv_input.header)
    if not _supported(csv_input, spec, compression) or not _plain_bytes(Path(path)):
        return None
    as_text: frozenset[str] = frozenset()
    for careful in (False, True):
        query = _build(pl, spec, header, as_text, careful)
        if query is None:
            return None
        try:
            found = query.run(pl, str(path), tmp_target, compression)
        except BaseException as exc:  # a Polars error or panic means no proof, never a crash
            tmp_target.unlink(missing_ok=True)
            if not isinstance(exc, Exception | pl.exceptions.PanicException):
                raise
            if not re.search(r"could not parse .* as dtype `f(32|64)`", str(exc), re.S):
                return None
            found = {"\0rows": 0, **{f"\0doubt {n}": 1 for n in query.typed_numbers}}
        rows = found.pop("\0rows")
        failed = any(v for k, v in found.items() if not k.startswith("\0"))
        retry = {k for k, v in found.items() if v and k.startswith("\0")}
        if rows and not failed and not retry:
            return rows
        tmp_target.unlink(missing_ok=True)
        if failed or not retry or careful:
            return None
        as_text = frozenset(k[7:] for k in retry if k.startswith("\0doubt "))
    return None


def _supported(csv_input: CsvInput, spec: TransformSpec, compression: str) -> bool:
    delimiter = spec.delimiter
    return (
        csv_input.compression == "none"
        and compression in COMPRESSIONS
        and len(delimiter) == 1
        and delimiter.isascii()
        and delimiter not in '"\r\n'
        and bool(csv_input.header)
    )


def _plain_bytes(path: Path) -> bool:
    """No carriage return except in CRLF line ends (Polars drops one before a delimiter where
    DuckDB ends the line), and a header line without an open quote. Reads in chunks (memchr
    speed, bounded memory)."""
    with path.open("rb", buffering=0) as stream:
        first = stream.readline(64 << 20)
        if not first.endswith(b"\n") or first.count(b'"') % 2:
            return False
        crlf, chunk = first.endswith(b"\r\n"), bytearray(4 << 20)
        while size := stream.readinto(chunk):
            if not crlf:
                if chunk.find(b"\r", 0, size) != -1:
                    return False
                continue
            if size == len(chunk) and chunk[-1] == 13:  # decide that \r with the next chunk
                size -= 1
                stream.seek(-1, 1)
            if _BARE_CR.search(memoryview(chunk)[:size]):
                return False
    return True


@dataclass
class _Query:
    """Outputs (alias, name, type) computed in stages, and the counts that prove them: every
    count must be 0; one named '\\0...' that is not asks for a second pass instead."""

    schema: dict[str, Any]
    separator: str
    careful: bool
    typed_numbers: list[str] = field(default_factory=list)
    stages: list[list[Any]] = field(default_factory=lambda: [[], [], []])  # trim, cast, derive
    outputs: list[tuple[str, str, str]] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)

    def run(self, pl: Any, path: str, target: Path, compression: str) -> dict[str, int]:
        """One streaming pass writing `target`; returns the counts (and '\\0rows')."""
        staged = pl.scan_csv(
            path, has_header=False, skip_rows=1, schema=self.schema, separator=self.separator,
            quote_char='"', null_values=NULL_VALUES if self.careful else None,
            truncate_ragged_lines=False,
            encoding="utf8", glob=False, raise_if_empty=False,
        )  # fmt: skip
        for stage in self.stages:
            staged = staged.with_columns(stage) if stage else staged
        out = staged.select(pl.col(alias).alias(name) for alias, name, _ in self.outputs)
        counts = staged.select(pl.len().alias("\0rows"), *self.checks)
        arrow = pa.schema([pa.field(name, _ARROW[kind]) for _, name, kind in self.outputs])
        sink = out.sink_parquet(
            target, compression=compression, row_group_size=ROW_GROUP_ROWS, lazy=True,
            # Polars' own Arrow schema says large_string; DuckDB's files read back as string.
            metadata={"ARROW:schema": base64.b64encode(arrow.serialize().to_pybytes()).decode()},
        )  # fmt: skip
        found = pl.collect_all([sink, counts], engine="streaming")[-1].row(0, named=True)
        return {k: int(v or 0) for k, v in found.items()}


def _build(
    pl: Any, spec: TransformSpec, header: tuple[str, ...], as_text: frozenset[str], careful: bool
) -> _Query | None:
    """The query for `spec` on `header`, or None when the spec uses what this path cannot
    reproduce exactly. A first, optimistic pass reads no null markers and trims nothing: any
    null in a typed number column, marker in kept text or refused value asks for a `careful`
    pass (markers read as nulls, timestamps trimmed, `as_text` number columns read as text)."""
    by_source = {c.source: c for c in spec.columns}
    query, lengths = _Query({}, spec.delimiter, careful), []
    for name in header:
        col, rule = pl.col(name), by_source.get(name)
        kind = rule.type if rule else "varchar"
        typed = kind in ("double", "float") and name not in as_text
        query.schema[name] = {"double": pl.Float64, "float": pl.Float32}[kind] if typed else (
            pl.String
        )  # fmt: skip
        if typed:
            query.typed_numbers.append(name)
            query.checks.append(col.null_count().alias(f"\0doubt {name}"))
        elif kind not in ("timestamp", "date", "boolean"):  # those match short patterns
            lengths.append(col.str.len_bytes())
        if kind == "varchar":  # kept or dropped text: line breaks are split differently
            query.checks.append(col.str.contains(r"[\r\n]").sum().alias(f"breaks {name}"))
        if rule is None and (name in spec.drop or not spec.keep_others):
            continue
        alias = f"\0{len(query.outputs)}"
        if kind in ("timestamp", "date"):
            value = _timestamp(pl, col, rule.parse_formats() if rule else (), careful, query)
        else:
            value = _convert(pl, col, kind, typed)
        if value is None:
            return None
        query.stages[1].append((value.dt.date() if kind == "date" else value).alias(alias))
        query.outputs.append((alias, rule.target if rule else name, kind))
        if kind in ("double", "float"):
            query.checks.append((~pl.col(alias).is_finite()).sum().alias(f"infinite {alias}"))
        if not typed and kind != "varchar":
            refused = (col.is_not_null() & pl.col(alias).is_null()).sum()
            query.checks.append(refused.alias(f"refused {name}" if careful else f"\0{name}"))
        elif kind == "varchar" and not careful:
            query.checks.append(col.is_in(NULL_VALUES).sum().alias(f"\0markers {name}"))
    doubles = {name.casefold(): pl.col(a) for a, name, kind in query.outputs if kind == "double"}
    for derived in spec.derived:
        expr = _Arithmetic(derived.expr, doubles).parse()
        if expr is None or derived.type not in (None, "double"):
            return None
        alias = f"\0{len(query.outputs)}"
        query.stages[2].append(expr.alias(alias))
        query.outputs.append((alias, derived.name, "double"))
        query.checks.append((~pl.col(alias).is_finite()).sum().alias(f"infinite {alias}"))
    query.checks.append(pl.col(header[-1]).null_count().alias("short rows"))
    if lengths:
        query.checks.append((pl.sum_horizontal(lengths) > MAX_TEXT_BYTES).sum().alias("long"))
    names = [name.casefold() for _, name, _ in query.outputs]
    return query if len(set(names)) == len(names) else None


def _convert(pl: Any, col: Any, kind: str, typed: bool) -> Any:
    """The expression turning input column `col` into `kind` (None: not supported)."""
    if kind == "varchar" or typed:
        return col
    if kind in ("double", "float", "bigint", "integer"):
        types = {"double": pl.Float64, "float": pl.Float32, "bigint": pl.Int64}
        return col.str.strip_chars(" ").cast(types.get(kind, pl.Int32), strict=False)
    if kind == "boolean":
        mapping = {
            "".join(chars): value
            for word, value in _BOOLEANS.items()
            for chars in product(*({c.lower(), c.upper()} for c in word))
        }
        return col.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    return None


def _timestamp(pl: Any, col: Any, formats: tuple[str, ...], trim: bool, query: _Query) -> Any:
    """`col` parsed with the first of `formats` whose pattern it matches; patterns of formats
    with different literal characters never match the same text, so each format parses only
    its own values and the order cannot matter. None when a format is not supported."""
    patterns, skeletons = [], set()
    for fmt in formats:
        parts = [p for p in re.split(r"(%.)", fmt) if p]
        skeleton = "".join(p for p in parts if p not in _FIELDS)
        if "%" in skeleton or skeleton in skeletons or fmt != fmt.strip():
            return None  # an unsupported directive, or formats whose order could matter
        skeletons.add(skeleton)
        patterns.append((fmt, "^" + "".join(_FIELDS.get(p, re.escape(p)) for p in parts) + "$"))
    if not patterns:
        return None
    if trim:
        alias = f"\0trimmed {len(query.stages[0])}"
        query.stages[0].append(col.str.strip_chars(" ").alias(alias))
        col = pl.col(alias)
    parsed = [
        pl.when(col.str.contains(pattern))
        .then(col)
        .str.to_datetime(fmt, time_unit="us", strict=False, exact=True, cache=False)
        for fmt, pattern in patterns
    ]
    return pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]


@functools.cache
def _sql_keywords() -> frozenset[str]:
    import duckdb

    with duckdb.connect(":memory:") as con:
        rows = con.execute("SELECT keyword_name FROM duckdb_keywords()").fetchall()
    return frozenset(str(r[0]).casefold() for r in rows)


class _Arithmetic:
    """Parses SQL `a - b`, `(a + b) * c`, `-a` over `columns` (names matched like DuckDB's,
    case-insensitively) into a Polars expression; None for anything else (literals, functions,
    comments, keywords)."""

    def __init__(self, text: str, columns: dict[str, Any]) -> None:
        self.columns, self.tokens, self.pos = columns, self._tokens(text) or [], 0

    @staticmethod
    def _tokens(text: str) -> list[str] | None:
        if "--" in text or "/*" in text:
            return None
        tokens, pos = [], 0
        while pos < len(text.rstrip()):
            match = _TOKEN.match(text, pos)
            if match is None:
                return None
            bare, quoted, op = match.groups()
            if bare is not None and bare.casefold() in _sql_keywords():
                return None
            tokens.append(op or "$" + (bare if bare is not None else quoted.replace('""', '"')))
            pos = match.end()
        return tokens

    def parse(self) -> Any:
        expr = self._sum() if self.tokens else None
        return expr if self.pos == len(self.tokens) else None

    def _take(self, *expected: str) -> str | None:
        token = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        if token is not None and (not expected or token in expected):
            self.pos += 1
            return token
        return None

    def _sum(self) -> Any:
        left = self._product()
        while left is not None and (op := self._take("+", "-")):
            right = self._product()
            left = None if right is None else left + right if op == "+" else left - right
        return left

    def _product(self) -> Any:
        left = self._factor()
        while left is not None and self._take("*"):
            right = self._factor()
            left = None if right is None else left * right
        return left

    def _factor(self) -> Any:
        token = self._take()
        if token == "-":
            inner = self._factor()
            return None if inner is None else -inner
        if token == "(":
            inner = self._sum()
            return inner if inner is not None and self._take(")") else None
        if token is None or not token.startswith("$"):
            return None
        return self.columns.get(token[1:].casefold())
