"""JsonLinesSink: one JSON object per metric point, one per line, appended to a file or
written to standard output (path "-").

Each line is `{"metric", "type", "value", "timestamp", "tags"}` in that order: `type` is
"distribution", "count" or "gauge", `value` a number, `timestamp` epoch seconds (float),
`tags` an object of the point's normalised tags. Counts are one increment per file (`counts`
is "increments"): a reader sums them.

Text is data: orjson escapes the JSON control characters (U+0000-U+001F, `"` and `\\`); this
sink also escapes DEL, the C1 controls (U+0080-U+009F, which include NEL) and the line/paragraph
separators U+2028/U+2029, so no raw control character reaches the file and no reader that
splits on Unicode line breaks sees a line end inside a value. A value that is not finite is
written as null (JSON has no NaN); domain.metrics never produces one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import Point

# Raw DEL, C1 controls and U+2028/U+2029 in orjson's UTF-8 output (only inside strings: every
# structural character is ASCII, and 0xC2/0xE2 are lead bytes, never continuation bytes).
_RAW_CONTROLS = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]")


def _escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def json_line(point: Point) -> bytes:
    """One point as one JSON line (with its trailing newline)."""
    data = orjson.dumps(
        {
            "metric": point.metric,
            "type": point.kind,
            "value": point.value,
            "timestamp": point.timestamp,
            "tags": dict(point.tags),
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )
    return _RAW_CONTROLS.sub(_escape, data)


class JsonLinesSink:
    """Appends points to `path` ("-": standard output).

    Each `send` serialises every point first (a point that cannot be encoded refuses the
    whole delivery before anything is written: SinkError REJECTED), then opens the file in
    append mode (creating its parent folders), writes all lines, flushes and fsyncs it before
    returning, so a point reported as sent is on disk. An OSError gives SinkError RETRY
    naming the path; the file is cut back to its size before the call (best effort), so a
    retry does not repeat half a delivery. Thread-compatible: one thread calls it."""

    counts = "increments"
    max_age: float | None = None

    def __init__(self, path: str, name: str = "jsonl") -> None:
        self.path = path
        self.name = name

    def __repr__(self) -> str:
        return f"JsonLinesSink(path={self.path!r}, name={self.name!r})"

    def send(self, points: Sequence[Point], timeout: float | None = None) -> None:
        try:
            data = b"".join(json_line(p) for p in points)
        except orjson.JSONEncodeError as exc:
            raise SinkError(f"jsonl: cannot encode a point: {exc}", SinkError.REJECTED) from exc
        if not data:
            return
        if self.path == "-":
            self._write_stdout(data)
        else:
            self._append(Path(self.path), data)

    def close(self) -> None:
        """Nothing is buffered or held open between calls."""

    def _write_stdout(self, data: bytes) -> None:
        out = sys.stdout
        try:
            out.flush()  # keep order with text already written through the text layer
            binary = getattr(out, "buffer", None)
            if binary is not None:
                binary.write(data)
                binary.flush()
            else:
                out.write(data.decode())
                out.flush()
        except OSError as exc:
            raise SinkError(f"jsonl: cannot write to standard output: {_reason(exc)}") from exc

    def _append(self, path: Path, data: bytes) -> None:
        try:
            created = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: nothing is left in a buffer to be written again after a cut-back.
            with path.open("ab", buffering=0) as f:
                start = f.tell()
                try:
                    _write_all(f.fileno(), data)
                    os.fsync(f.fileno())
                except OSError:
                    _cut_back(f.fileno(), start)
                    raise
            if created:
                _fsync_folder(path.parent)
        except OSError as exc:
            raise SinkError(f"jsonl: cannot write {str(path)!r}: {_reason(exc)}") from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _cut_back(fd: int, size: int) -> None:
    """Undo a partial append (best effort: the original error is what gets reported)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)


def _fsync_folder(folder: Path) -> None:
    """Make a newly created file's directory entry durable too (POSIX; skipped elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
