"""A fast path for large plain CSV files on Polars that gives only results DuckDB would give.

`convert_fast` writes in one streaming Polars pass (bounded memory) the Parquet file DuckDB's
strict path writes: same columns, order, types, values, row order, nulls (Polars leaves INT32
and INT64 without DuckDB's Int annotation: the same type, by the spec and for every reader). It
returns the row count only when that pass *proves* the equality, else removes its output and
returns None: the caller runs the DuckDB path, which also words a bad file's error. It never
raises for bad data. The proof is counts from the same pass:
- row shape: Polars refuses a long row (`truncate_ragged_lines=False`) but pads a short one with
  nulls, and a short row always leaves the *last* column null: no null there, no short row;
- casts: a non-null value with a null result was refused (integers refuse fractions, times
  are ISO text Arrow's strict parser reads (`iso_timestamps`) or match a format's fixed-width
  pattern, booleans DuckDB's words); numbers must be finite;
- refused where the readers differ: CR outside CRLF line ends or LF alone in a CRLF file, quotes
  or line breaks in text, an open quote in the header line, over 1 MiB of text a line, gzip.
The first pass is optimistic: no null markers, no trimming, numbers read typed. Nulls in typed
numbers are proven by one text read of those columns (Polars reads a blank number as null, where
DuckDB refuses it). A file unproven only for markers, spaces or a number Polars cannot read gets
one `careful` pass: markers as nulls, timestamps trimmed, doubtful numbers read `as_text`.
Polars runs on its own thread pool (POLARS_MAX_THREADS), not on DuckDB's `threads` setting.
"""

from __future__ import annotations

import base64
import functools
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestflow.adapters.engines.inputs import CsvInput
from ingestflow.adapters.engines.iso_timestamps import iso_timestamp
from ingestflow.domain.transform import TransformSpec

NULL_VALUES = ["", "null", "NULL"]  # DuckDB's nullstr, quoted or not
COMPRESSIONS = {"snappy", "zstd", "gzip", "lz4", "uncompressed"}  # DuckDB's spelling
ROW_GROUP_ROWS = 122_880  # DuckDB's Parquet row group size
MAX_TEXT_BYTES = 1 << 20  # text per line; longer lines are left to DuckDB's line-limit rules
# strptime directive -> the only text both engines read, and read the same way: fixed-width
# digits (Polars also reads ' 1', '+1', ...), ranges and calendar checked by both, except that
# Polars reads second 60 as a leap second.
_FIELDS = {"%Y": "[0-9]{4}", "%S": "[0-5][0-9]"} | {f"%{c}": "[0-9]{2}" for c in "mdHM"}
_BOOLEANS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
             "false": False, "f": False, "no": False, "n": False, "0": False}  # fmt: skip
_ARROW = {"varchar": pa.string(), "double": pa.float64(), "float": pa.float32(),
          "bigint": pa.int64(), "integer": pa.int32(), "boolean": pa.bool_(),
          "date": pa.date32(), "timestamp": pa.timestamp("us")}  # fmt: skip
_NUMBERS = {"double": "Float64", "float": "Float32", "bigint": "Int64", "integer": "Int32"}
HARD, AGAIN = "\0hard", "\0again"  # what a failed check means (else: a column to read as text)
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
    spec, header, sep = spec.bound_to(csv_input.header), csv_input.header, spec.delimiter
    plain_input = csv_input.compression == "none" and compression in COMPRESSIONS
    one_char = len(sep) == 1 and sep.isascii() and sep not in '"\r\n'
    if not plain_input or not one_char or len({h.casefold() for h in header}) != len(header):
        return None  # gzip, an odd delimiter, or names DuckDB takes for one (it folds case)
    with ThreadPoolExecutor(1) as pool:  # the byte check reads beside the Polars pass
        plain = pool.submit(_plain_bytes, Path(path))
        rows = _passes(pl, str(path), header, spec, tmp_target, compression)
        if rows is not None and (plain.exception() or not plain.result()):
            tmp_target.unlink(missing_ok=True)  # an I/O error there: the DuckDB path reports it
            return None
    return rows


def _passes(
    pl: Any, path: str, header: tuple[str, ...], spec: TransformSpec, target: Path, codec: str
) -> int | None:
    """The optimistic pass, then the careful one if it may prove what the first could not."""
    as_text: frozenset[str] = frozenset()
    for careful in (False, True):
        query = _build(pl, spec, header, as_text, careful)
        if query is None:
            return None
        try:
            rows, failed = query.run(pl, path, target, codec)
        except BaseException as exc:  # a Polars error or panic means no proof, never a crash
            if not isinstance(exc, Exception | pl.exceptions.PanicException):
                raise
            unparsed = re.search(r"could not parse .* as dtype `f(32|64)`", str(exc), re.S)
            rows, failed = 0, query.typed_numbers if unparsed else [HARD]
        if rows and not failed:
            return rows
        target.unlink(missing_ok=True)
        if careful or HARD in failed:
            return None
        as_text = frozenset(failed) - {AGAIN}
    return None


def _plain_bytes(path: Path) -> bool:
    """No open quote in the header line; line ends both read alike: LF files have no CR (Polars
    drops one before a delimiter, DuckDB ends the line), CRLF files no lone CR or LF."""
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
            if size == len(chunk) and chunk[-1] == 13:  # decide that CR with the next chunk
                size -= 1
                stream.seek(-1, 1)
            pairs = chunk.count(b"\r\n", 0, size)
            if chunk.count(b"\r", 0, size) != pairs or chunk.count(b"\n", 0, size) != pairs:
                return False
    return True


@dataclass
class _Query:
    """Outputs (alias, name, type) computed in stages, and counts that prove them, each with its
    meaning when not 0: HARD (no proof), AGAIN (try a careful pass) or a typed number column."""

    schema: dict[str, Any]
    separator: str
    careful: bool
    typed_numbers: list[str] = field(default_factory=list)
    stages: list[list[Any]] = field(default_factory=lambda: [[], [], []])  # trim, cast, derive
    outputs: list[tuple[str, str, str]] = field(default_factory=list)
    checks: list[tuple[str, Any]] = field(default_factory=list)

    def check(self, meaning: str, count: Any) -> None:
        self.checks.append((meaning, count.alias(f"\0c{len(self.checks)}")))

    def run(self, pl: Any, path: str, target: Path, compression: str) -> tuple[int, list[str]]:
        """One streaming pass writing `target`: the rows, and the meanings of failed checks."""
        staged = pl.scan_csv(
            path, has_header=False, skip_rows=1, schema=self.schema, separator=self.separator,
            quote_char='"', null_values=NULL_VALUES if self.careful else None,
            truncate_ragged_lines=False, encoding="utf8", glob=False, raise_if_empty=False,
        )  # fmt: skip
        for stage in self.stages:
            staged = staged.with_columns(stage) if stage else staged
        out = staged.select(pl.col(alias).alias(name) for alias, name, _ in self.outputs)
        counts = staged.select(pl.len().alias("\0rows"), *(c for _, c in self.checks))
        arrow = pa.schema([pa.field(name, _ARROW[kind]) for _, name, kind in self.outputs])
        sink = out.sink_parquet(
            target, compression=compression, row_group_size=ROW_GROUP_ROWS, lazy=True,
            # Polars' own Arrow schema says large_string; DuckDB's files read back as string.
            metadata={"ARROW:schema": base64.b64encode(arrow.serialize().to_pybytes()).decode()},
        )  # fmt: skip
        found = pl.collect_all([sink, counts], engine="streaming")[-1].row(0)
        failed = [m for (m, _), count in zip(self.checks, found[1:], strict=True) if count]
        doubts = [m for m in failed if m not in (HARD, AGAIN)]
        if doubts and len(doubts) == len(failed):  # only nulls in typed numbers: blanks?
            failed = [HARD] if self._blanks(pl, path, doubts) else []
        return int(found[0]), failed

    def _blanks(self, pl: Any, path: str, columns: list[str]) -> bool:
        """Whether a value of `columns` is blank (spaces, tabs): Polars reads one as null in a
        number column where DuckDB refuses it. One text read of those columns alone."""
        text = pl.scan_csv(
            path, has_header=False, skip_rows=1, schema=dict.fromkeys(self.schema, pl.String),
            separator=self.separator, quote_char='"', glob=False,
        )  # fmt: skip
        blank = pl.sum_horizontal(pl.col(c).str.contains("^[ \t]+$").sum() for c in columns)
        return bool(text.select(blank).collect(engine="streaming").item())


def _build(
    pl: Any, spec: TransformSpec, header: tuple[str, ...], as_text: frozenset[str], careful: bool
) -> _Query | None:
    """The query for `spec` on `header` (see the module doc for `careful` and `as_text`), or
    None when the spec uses what this path cannot reproduce exactly."""
    by_source = {c.source: c for c in spec.columns}
    query, lengths = _Query({}, spec.delimiter, careful), []
    for name in header:
        col, rule = pl.col(name), by_source.get(name)
        kind = rule.type if rule else "varchar"
        typed = kind in ("double", "float") and name not in as_text
        query.schema[name] = getattr(pl, _NUMBERS[kind]) if typed else pl.String
        if typed:
            query.typed_numbers.append(name)
            query.check(name, col.null_count())
        elif kind not in ("timestamp", "date", "boolean"):  # those match short patterns
            lengths.append(col.str.len_bytes())
        if kind == "varchar":  # line breaks and quotes (' "a"' is a for DuckDB) read differently
            query.check(HARD, col.str.contains(r"[\r\n\"]").sum())
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
            query.check(HARD, (~pl.col(alias).is_finite()).sum())
        if not typed and kind != "varchar":
            refused = (col.is_not_null() & pl.col(alias).is_null()).sum()
            query.check(HARD if careful else AGAIN, refused)
        elif kind == "varchar" and not careful:
            query.check(AGAIN, col.is_in(NULL_VALUES).sum())  # markers: read them as nulls
    doubles = {name.casefold(): pl.col(a) for a, name, kind in query.outputs if kind == "double"}
    for derived in spec.derived:
        expr = _arithmetic(derived.expr, doubles)
        if expr is None or derived.type not in (None, "double"):
            return None
        alias = f"\0{len(query.outputs)}"
        query.stages[2].append(expr.alias(alias))
        query.outputs.append((alias, derived.name, "double"))
        query.check(HARD, (~pl.col(alias).is_finite()).sum())
    query.check(HARD, pl.col(header[-1]).null_count())  # a short row, or a null: no proof
    if lengths:
        query.check(HARD, (pl.sum_horizontal(lengths) > MAX_TEXT_BYTES).sum())
    names = [name.casefold() for _, name, _ in query.outputs]
    return query if len(set(names)) == len(names) else None


def _convert(pl: Any, col: Any, kind: str, typed: bool) -> Any:
    """The expression turning input column `col` into `kind` (None: not supported)."""
    if kind == "varchar" or typed:
        return col
    if kind in _NUMBERS:
        return col.str.strip_chars(" ").cast(getattr(pl, _NUMBERS[kind]), strict=False)
    if kind == "boolean":
        mapping = {
            "".join(chars): value
            for word, value in _BOOLEANS.items()
            for chars in product(*({c.lower(), c.upper()} for c in word))
        }
        return col.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    return None


def _timestamp(pl: Any, col: Any, formats: tuple[str, ...], trim: bool, query: _Query) -> Any:
    """`col` parsed by the format whose pattern it matches: patterns of different literal
    characters never match the same text, so order cannot matter. None: not supported."""
    patterns, skeletons = [], set()
    for fmt in formats:
        parts = [p for p in re.split(r"(%.)", fmt) if p]
        skeleton = "".join(p for p in parts if p not in _FIELDS)
        if "%" in skeleton or skeleton in skeletons or fmt != fmt.strip():
            return None  # an unsupported directive, or formats whose order could matter
        skeletons.add(skeleton)
        patterns.append((fmt, "^" + "".join(_FIELDS.get(p, re.escape(p)) for p in parts) + "$"))
    if not trim and (iso := iso_timestamp(pl, col, formats)) is not None:
        return iso  # ISO layouts: Arrow's strict parse proves and parses in one step
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
    return pl.coalesce(parsed) if len(parsed) > 1 else (parsed[0] if parsed else None)


@functools.cache
def _sql_keywords() -> frozenset[str]:
    with duckdb.connect(":memory:") as con:
        rows = con.execute("SELECT keyword_name FROM duckdb_keywords()").fetchall()
    return frozenset(str(r[0]).casefold() for r in rows)


def _arithmetic(text: str, columns: dict[str, Any]) -> Any:
    """SQL `a - b`, `(a + b) * c`, `-a` over `columns` (names matched case-insensitively, as
    DuckDB does) as a Polars expression; None for anything else (literals, functions, comments,
    keywords). SQL and Python agree on the precedence and associativity of + - * and unary -."""
    if "--" in text or "/*" in text:
        return None
    code, names, pos = [], [], 0
    try:  # no match, an unknown name, bad syntax: None; eval sees only c[i], + - * ( )
        while pos < len(text.rstrip()):
            match = _TOKEN.match(text, pos)
            bare, quoted, op = match.groups()  # type: ignore[union-attr]
            if bare and bare.casefold() in _sql_keywords():
                return None
            if not op:
                names.append(columns[(bare or quoted.replace('""', '"')).casefold()])
            code.append(op or f"c[{len(names) - 1}]")
            pos = match.end()  # type: ignore[union-attr]
        return eval(" ".join(code), {"__builtins__": {}}, {"c": names}) if names else None
    except Exception:
        return None
