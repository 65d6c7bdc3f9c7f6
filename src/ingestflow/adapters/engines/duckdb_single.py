"""One file through DuckDB: the strict conversion, and why it failed when it did (the column,
row and value, or the reader's error, cause first), as a terminal or transient file error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from ingestflow.adapters.engines import duckdb_sql as sql
from ingestflow.adapters.engines.engine_errors import CONTENT_CHARS, range_note, summarise
from ingestflow.adapters.engines.inputs import MAX_LINE_BYTES, CsvInput
from ingestflow.adapters.engines.output_files import place
from ingestflow.domain.errors import TerminalError, TransientError
from ingestflow.domain.transform import TransformSpec

_TERMINAL_DUCKDB = (
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.BinderException,
    duckdb.ParserException,
    duckdb.OutOfRangeException,
    duckdb.NotImplementedException,  # a line longer than DuckDB's buffer (see convert_file)
)
_LINE_TOO_LONG = "Maximum line size of"
# I/O errors that mean the input itself is damaged (retrying cannot help).
_CORRUPT_COMPRESSION = re.compile(r"gzip|zlib|decompress|compressed", re.IGNORECASE)


def diagnose(
    con: duckdb.DuckDBPyConnection,
    spec: TransformSpec,
    text_source: str,
    header: tuple[str, ...],
    exc: duckdb.Error,
    replace: Mapping[str, str],
) -> str:
    """Name the column, row and value that broke the strict cast, when one did; otherwise the
    reader's own error, summarised. `text_source` reads the same file with every column as
    text; `replace` maps reader paths to keys in error text."""
    for rule in spec.columns:
        if rule.type == "varchar" or rule.source not in header:
            continue
        try:
            found = con.execute(sql.first_bad_value_sql(rule, text_source)).fetchone()
        except duckdb.Error as text_error:
            # The file itself is malformed (the text reader fails too): its error is the cause.
            return f"malformed CSV: {summarise(str(text_error), replace)}"
        if found:
            row, value = found
            expected = (
                f"{rule.type} (formats: {', '.join(rule.parse_formats())})"
                if rule.type in ("timestamp", "date")
                else rule.type
            )
            note = range_note(rule.type, value)
            shown = value if len(value) <= CONTENT_CHARS else value[:CONTENT_CHARS] + "..."
            return f"column '{rule.source}', row {row}: cannot parse {shown!r} as {expected}{note}"
    return f"malformed CSV: {summarise(str(exc) or type(exc).__name__, replace)}"


def convert_file(
    con: duckdb.DuckDBPyConnection,
    path: str,
    key: str,
    csv_input: CsvInput,
    spec: TransformSpec,
    tmp: Path,
    target: Path,
    compression: str,
) -> int:
    """Convert the file DuckDB reads at `path` (landing key `key`) into `target` through the
    temporary file `tmp`; rows written. Raises TerminalError (bad input, or no place for the
    output) or TransientError (I/O), with one readable line.

    Lines: read with DuckDB's default limit (its read buffers, and so its parallelism, grow
    with the limit) unless the file is gzip or its last line is long (see `inputs`: DuckDB
    drops such a line silently at the default). A longer line elsewhere makes DuckDB fail:
    the file is then read again with the limit raised to MAX_LINE_BYTES; only a line longer
    than that fails the file."""
    long_lines = (
        csv_input.compression == "gzip" or csv_input.final_line_bytes > sql.DEFAULT_MAX_LINE_SIZE
    )
    args = (con, path, key, csv_input, spec, tmp, target, compression)
    if not long_lines:
        try:
            return _convert(*args, None)
        except _LineTooLongError:
            pass
    return _convert(*args, MAX_LINE_BYTES)


class _LineTooLongError(Exception):
    """A line exceeded DuckDB's default limit: worth one more read with a higher one."""


def _convert(
    con: duckdb.DuckDBPyConnection,
    path: str,
    key: str,
    csv_input: CsvInput,
    spec: TransformSpec,
    tmp: Path,
    target: Path,
    compression: str,
    max_line: int | None,
) -> int:
    header, codec = csv_input.header, csv_input.compression
    spec = spec.bound_to(header)
    types = sql.reader_types(spec, header)
    source = sql.read_csv_sql(path, header, codec, spec.delimiter, types, max_line_size=max_line)
    names = {path: key}
    try:
        result = con.execute(
            f"COPY ({sql.select_sql(spec, source, header)}) TO {sql.literal(str(tmp))} "
            f"(FORMAT parquet, COMPRESSION {compression})"
        ).fetchone()
        place(tmp, target)
    except _TERMINAL_DUCKDB as exc:
        # At the default limit DuckDB reports a line longer than its buffer as "not
        # implemented" (or with no message at all) rather than as too long.
        too_long = _LINE_TOO_LONG in str(exc) or not str(exc).strip()
        if max_line is None and (too_long or isinstance(exc, duckdb.NotImplementedException)):
            raise _LineTooLongError from None
        text_source = sql.read_csv_sql(path, header, codec, spec.delimiter, max_line_size=max_line)
        raise TerminalError(diagnose(con, spec, text_source, header, exc, names)) from None
    except duckdb.IOException as exc:
        summary = summarise(str(exc), names)
        if str(tmp) in str(exc):
            raise TransientError(f"cannot write output {target}: {summary}") from None
        if _CORRUPT_COMPRESSION.search(summary):
            raise TerminalError(f"corrupt compressed data: {summary}") from None
        raise TransientError(f"I/O error: {summary}") from None
    except duckdb.Error as exc:
        raise TransientError(f"engine error: {summarise(str(exc), names)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return int(result[0]) if result else 0
