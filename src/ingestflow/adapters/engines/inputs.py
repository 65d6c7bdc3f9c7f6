"""Inspecting an input file before an engine reads it: compression, header, obvious corruption.

These checks turn the common bad inputs (binary garbage, wrong encoding, empty file, missing
columns) into terminal errors with a readable reason, before any engine-specific message.

Sizes: the header line is read incrementally up to `HEADER_MAX_BYTES` (16 MiB), so wide files
(thousands of columns, long names) are accepted; engines must be able to read lines of at least
`MAX_LINE_BYTES` (twice that) so any accepted header is readable. A header of more than
`MAX_COLUMNS` columns is refused (the reader's cost grows faster than linearly with the count).

The last line of a plain file is measured too (`CsvInput.final_line_bytes`, read backwards from
the end: one small read): DuckDB 2.0 silently drops a final line longer than its read buffer
(16x its line limit), so engines read a file whose last line is long with a raised limit, and a
last line above `MAX_LINE_BYTES` is refused here. A gzip file's end cannot be read without
decompressing it all: its `final_line_bytes` is -1 (unknown) and engines always read it with
the raised limit (gzip is read on one thread anyway, so that costs nothing). That leaves one
case DuckDB alone decides: a gzip file whose last line exceeds 16 x MAX_LINE_BYTES (512 MiB).
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ingestflow.domain.errors import TerminalError

GZIP_MAGIC = b"\x1f\x8b"
_PROBE_BYTES = 64 * 1024
HEADER_MAX_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 2 * HEADER_MAX_BYTES
MAX_COLUMNS = 20_480  # Spark's CSV limit (maxColumns)
_LINE_BREAK = re.compile(rb"[\r\n]")  # \r\n, \n and old Mac \r line ends
_BINARY = "binary content: the file is not CSV text (NUL bytes found)"


class _Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class CsvInput:
    path: Path
    compression: str  # "gzip" or "none"
    header: tuple[str, ...]
    final_line_bytes: int = 0  # length of the last non-empty line; -1: unknown (gzip)


def inspect_csv(path: Path, delimiter: str = ",") -> CsvInput:
    """Read the header of a (possibly gzipped) CSV file; TerminalError when it is not one.
    OSError propagates unchanged (the caller decides it is transient)."""
    with path.open("rb") as raw:
        return inspect_stream(raw, path, delimiter)


def inspect_stream(raw: BinaryIO, path: Path, delimiter: str = ",") -> CsvInput:
    """`inspect_csv` on an already open binary file (positioned at its start) named `path`."""
    probe = raw.read(_PROBE_BYTES)
    if probe[:2] != GZIP_MAGIC:
        header = _parse_header(_first_line(raw, probe), delimiter)
        final = _final_line_bytes(raw, probe)
        if final > MAX_LINE_BYTES:
            raise TerminalError(
                f"malformed CSV: the last line is longer than the limit of {MAX_LINE_BYTES} bytes"
            )
        return CsvInput(path, "none", header, final)
    raw.seek(0)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            first_line = _first_line(stream, stream.read(_PROBE_BYTES))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise TerminalError(f"corrupt gzip data: {exc}") from None
    return CsvInput(path, "gzip", _parse_header(first_line, delimiter), -1)


def _final_line_bytes(raw: BinaryIO, probe: bytes) -> int:
    """Bytes of the last non-empty line (trailing line breaks ignored), read backwards from the
    end; counting stops past MAX_LINE_BYTES. `probe` is the file's start (all of a small file)."""
    if len(probe) < _PROBE_BYTES:
        chunks: list[bytes] = [probe]
        pos = 0
    else:
        chunks, pos = [], raw.seek(0, os.SEEK_END)
    length, started = 0, False
    while length <= MAX_LINE_BYTES:
        if not chunks:
            if pos == 0:
                break
            step = min(_PROBE_BYTES, pos)
            pos = raw.seek(pos - step)
            chunks.append(raw.read(step))
        chunk = chunks.pop()
        if not started:
            chunk = chunk.rstrip(b"\r\n")
            started = bool(chunk)
        found = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if found >= 0:
            return length + len(chunk) - found - 1
        length += len(chunk)
    return length


def _first_line(stream: _Stream, probe: bytes) -> bytes:
    """The first line (without its line break) of a stream whose first `_PROBE_BYTES` are
    `probe`; read on in chunks past the probe, up to HEADER_MAX_BYTES."""
    if not probe.strip():
        raise TerminalError("empty file: no header row")
    if b"\x00" in probe:
        raise TerminalError(_BINARY)
    found = _LINE_BREAK.search(probe)
    if found or len(probe) < _PROBE_BYTES:
        return probe[: found.start()] if found else probe
    line = bytearray(probe)
    while len(line) <= HEADER_MAX_BYTES:
        chunk = stream.read(min(1024 * 1024, HEADER_MAX_BYTES + 1 - len(line)))
        if not chunk:
            break
        if b"\x00" in chunk:
            raise TerminalError(_BINARY)
        found = _LINE_BREAK.search(chunk)
        if found:
            return bytes(line + chunk[: found.start()])
        line += chunk
    if len(line) > HEADER_MAX_BYTES:
        raise TerminalError(
            f"no line break in the first {HEADER_MAX_BYTES // (1024 * 1024)} MiB: "
            "not a CSV file (or a header row wider than that)"
        )
    return bytes(line)


def _parse_header(first_line: bytes, delimiter: str) -> tuple[str, ...]:
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TerminalError(
            f"header is not UTF-8 text (byte {exc.start}): the file is not a UTF-8 CSV"
        ) from None
    try:
        header = tuple(next(csv.reader([text], delimiter=delimiter)))
    except csv.Error as exc:
        raise TerminalError(f"unreadable header row: {exc}") from None
    header = tuple(h.strip() for h in header)
    if not header or all(not h for h in header):
        raise TerminalError("empty header row")
    if len(header) > MAX_COLUMNS:
        raise TerminalError(f"header has {len(header)} columns, over the limit of {MAX_COLUMNS}")
    # Unnamed columns (e.g. a trailing delimiter on every line) get positional names.
    header = tuple(h or f"column{i + 1}" for i, h in enumerate(header))
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        listed = ", ".join(dupes)
        listed = listed if len(listed) <= 200 else listed[:197] + "..."
        raise TerminalError(f"header repeats column names: {listed}")
    return header


def missing_columns_error(header: tuple[str, ...], missing: Sequence[str]) -> TerminalError:
    """The error for a header without the required columns, with a hint when the file looks
    split on another delimiter."""
    hint = ""
    if len(header) == 1:
        for other in (";", "\t", "|"):
            if other in header[0]:
                hint = f" (the header looks {other!r}-delimited: set options.delimiter)"
    found = ", ".join(header)
    found = found if len(found) <= 200 else found[:197] + "..."
    return TerminalError(
        f"missing required column(s) {', '.join(missing)}; header has: {found}{hint}"
    )
