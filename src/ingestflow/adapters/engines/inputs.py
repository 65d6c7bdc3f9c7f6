"""Inspecting an input file before an engine reads it: compression, header, obvious corruption.

These checks turn the common bad inputs (binary garbage, wrong encoding, empty file, missing
columns) into terminal errors with a readable reason, before any engine-specific message.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ingestflow.domain.errors import TerminalError

GZIP_MAGIC = b"\x1f\x8b"
_PROBE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class CsvInput:
    path: Path
    compression: str  # "gzip" or "none"
    header: tuple[str, ...]


def inspect_csv(path: Path, delimiter: str = ",") -> CsvInput:
    """Read the header of a (possibly gzipped) CSV file; TerminalError when it is not one.
    OSError propagates unchanged (the caller decides it is transient)."""
    with path.open("rb") as raw:
        probe = raw.read(_PROBE_BYTES)
        compression = "gzip" if probe[:2] == GZIP_MAGIC else "none"
        if compression == "gzip":
            raw.seek(0)
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    probe = stream.read(_PROBE_BYTES)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise TerminalError(f"corrupt gzip data: {exc}") from None
    if not probe.strip():
        raise TerminalError("empty file: no header row")
    if b"\x00" in probe:
        raise TerminalError("binary content: the file is not CSV text (NUL bytes found)")
    # \r\n, \n and old Mac \r line ends.
    first_line = re.split(rb"\r\n|\n|\r", probe, maxsplit=1)[0]
    if len(first_line) == len(probe) and len(probe) == _PROBE_BYTES:
        raise TerminalError(f"no line break in the first {_PROBE_BYTES} bytes: not a CSV file")
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
    # Unnamed columns (e.g. a trailing delimiter on every line) get positional names.
    header = tuple(h or f"column{i + 1}" for i, h in enumerate(header))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise TerminalError(f"header repeats column names: {', '.join(dupes)}")
    return CsvInput(path, compression, header)
