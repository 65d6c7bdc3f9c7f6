"""Why a file failed on Spark, as one line: the column, row and value that broke a strict
parse, a record with the wrong number of fields, or Spark's own error (cause first).

`diagnose` runs one more job on the failed file (bad files are rare): the file read again in
PERMISSIVE mode, every check evaluated, the first offender taken per check. The report follows
the DuckDB engine's: a malformed record first, then the column rules in the spec's order (for
the first rule with a bad value, its first bad row), then derived columns.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from ingestflow.adapters.engines import spark_compile as sc
from ingestflow.adapters.engines.engine_errors import CONTENT_CHARS, cut, range_note
from ingestflow.adapters.engines.spark_read import CORRUPT_COLUMN
from ingestflow.domain.transform import TransformSpec

_CAUSED_BY = re.compile(r"^Caused by: (?:[\w.$]+(?:Exception|Error)): ?(.*)$", re.MULTILINE)
_TAGS = re.compile(r"\[[A-Z_.]+\]\s*|\s*SQLSTATE: \w+\.?")
_GZIP = re.compile(r"gzip|zlib|inflat|unexpected end of|corrupt|invalid (?:stored )?block")
ROW_ID = "__id"


def summarise(exc: BaseException, replace: Mapping[str, str]) -> str:
    """Spark's error on one line: the deepest cause, without error-class tags."""
    text = str(exc)
    for internal, shown in replace.items():
        text = text.replace(internal, shown)
    causes = [c for c in _CAUSED_BY.findall(text) if c.strip()]
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = causes[-1] if causes else (lines[0] if lines else type(exc).__name__)
    if first.startswith("An error occurred while calling") and len(lines) > 1:
        first = lines[1].lstrip(": ")
    first = re.sub(r"^[\w.$]+(?:Exception|Error): ", "", first)
    return cut(_TAGS.sub(" ", first).strip(), 300)


def is_corrupt_gzip(message: str) -> bool:
    return bool(_GZIP.search(message.casefold()))


def _shown(value: str) -> str:
    return value if len(value) <= CONTENT_CHARS else value[:CONTENT_CHARS] + "..."


def diagnose(
    read_permissive: Callable[[], Any], spec: TransformSpec, header: tuple[str, ...]
) -> str | None:
    """The first problem in the file `read_permissive()` reads (a DataFrame of the reader's
    text columns, plus CORRUPT_COLUMN), or None when every row converts."""
    from pyspark.sql import functions as F

    frame = read_permissive().withColumn(ROW_ID, F.monotonically_increasing_id())
    raw_names = sc.reader_names(header)
    converted, checks = sc.outputs(spec, header, frame, extra=(ROW_ID, CORRUPT_COLUMN, *raw_names))
    bound = spec.bound_to(header)
    raw_of = dict(zip(header, raw_names, strict=True))
    firsts = [F.min(F.when(F.col(CORRUPT_COLUMN).isNotNull(), F.struct(ROW_ID, CORRUPT_COLUMN)))]
    for n, check in enumerate(checks):
        value = F.col(raw_of[check.rule.source]) if check.rule else F.lit(None).cast("string")
        firsts.append(F.min(F.when(~F.col(f"__ok{n}"), F.struct(F.col(ROW_ID), value))))
    found = converted.agg(*firsts).collect()[0]
    if found[0] is not None:
        row, line = found[0][0] + 1, found[0][1] or ""
        return f"malformed CSV: row {row} has the wrong number of fields ({_shown(line)!r})"
    by_rule = {check.rule: found[n + 1] for n, check in enumerate(checks) if check.rule}
    for rule in bound.columns:
        hit = by_rule.get(rule)
        if hit is None:
            continue
        row, text = hit[0] + 1, str(hit[1] or "")
        expected = (
            f"{rule.type} (formats: {', '.join(rule.parse_formats())})"
            if rule.type in ("timestamp", "date")
            else rule.type
        )
        note = range_note(rule.type, text)
        return (
            f"column '{rule.source}', row {row}: cannot parse {_shown(text)!r} as {expected}{note}"
        )
    for n, check in enumerate(checks):
        if check.derived is not None and found[n + 1] is not None:
            row = found[n + 1][0] + 1
            return f"derived column '{check.name}' is not a finite number (overflow), row {row}"
    return None


def utf8_problem(raw: BinaryIO, compressed: bool, delimiter: str = ",") -> str | None:
    """What Spark would read differently from DuckDB, found before it reads: invalid UTF-8
    (Spark decodes it to U+FFFD silently; DuckDB refuses it), and a carriage return inside a
    quoted field (Spark's reader turns a quoted \\r\\n into \\n, and no option stops it).
    One line naming the problem, or None."""
    stream: BinaryIO | gzip.GzipFile = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, carriage, quote = 1, False, False
    try:
        while chunk := stream.read(1024 * 1024):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                lines += chunk.count(b"\n", 0, max(exc.start, 0))
                return f"malformed CSV: the file is not utf-8 encoded (Line: {lines})"
            lines += chunk.count(b"\n")
            carriage = carriage or b"\r" in chunk
            quote = quote or b'"' in chunk
        decoder.decode(b"", final=True)
        if carriage and quote:
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            if _quoted_carriage_return(stream, delimiter):
                return (
                    "the spark engine cannot keep a line break (\\r) inside a quoted field "
                    "(Spark's CSV reader rewrites it): convert this file with the duckdb engine"
                )
    except UnicodeDecodeError:
        return f"malformed CSV: the file is not utf-8 encoded (Line: {lines})"
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        return f"corrupt gzip data: {exc}"
    return None


def _quoted_carriage_return(stream: BinaryIO | gzip.GzipFile, delimiter: str) -> bool:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True)
        return any("\r" in field for row in reader for field in row)
    except csv.Error:
        return False  # the reader's own error decides
    finally:
        text.detach()
