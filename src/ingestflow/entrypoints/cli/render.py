"""Everything the CLI prints goes through here: records as JSON-ready dicts, Rich tables, lines.

Text that came from files, keys, configs or errors is data, never markup: it reaches Rich only
as `rich.text.Text` (so `[bold]` or `[/red]` print literally, and cannot crash a table), and
terminal control characters in it (ESC, CR, BEL, C1 codes, bidirectional overrides) are written
as visible escapes (`\\x1b`, `\\u202e`) so data cannot move the cursor, recolour or reorder the
terminal. JSON output stays lossless: those characters become JSON `\\u` escapes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import sys
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingestflow.domain.records import FileRecord, Transition

# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidirectional
# marks/overrides/isolates (they reorder what the terminal shows).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# json.dumps(ensure_ascii=False) already escapes C0 controls; these are what it leaves raw.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object) -> str:
    """`value` as text with terminal control characters written as visible escapes (tabs and
    newlines kept). Backslashes are left as they are."""
    return CONTROL.sub(_visible, str(value))


def text(value: object, style: str = "") -> Text:
    """A Rich Text that shows `value` literally (never parsed as markup); None is empty."""
    return Text("" if value is None else safe(value), style=style)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def file_json(r: FileRecord) -> dict[str, Any]:
    return {
        "key": r.key,
        "bucket": r.bucket,
        "status": r.status.value,
        "workflow": r.workflow,
        "prefix": r.prefix,
        "size": r.size,
        "etag": r.etag,
        "attempts": r.attempts,
        "batch_id": r.batch_id,
        "error": r.error,
        "upload_time": iso(r.upload_time),
        "start_time": iso(r.start_time),
        "end_time": iso(r.end_time),
        "output": r.output,
    }


def transition_json(t: Transition) -> dict[str, Any]:
    return {
        "id": t.id,
        "key": t.key,
        "bucket": t.bucket,
        "workflow": t.workflow,
        "from": t.old_status.value if t.old_status else None,
        "to": t.new_status.value,
        "at": iso(t.at),
        "reason": t.reason,
        "error": t.new.get("error"),
    }


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(data: Any) -> str:
    """Indented JSON. Characters that could drive a terminal are `\\u` escapes (same value)."""
    out = json.dumps(data, indent=2, default=_default, ensure_ascii=False)
    return _JSON_RAW.sub(_json_escape, out)


def write_json_array(items: Iterable[Any], out: TextIO | None = None, chunk: int = 500) -> None:
    """Write `items` as one JSON array, byte for byte what `dumps(list(items))` plus a newline
    gives, `chunk` items at a time: memory stays flat however many items there are."""
    stream = out if out is not None else sys.stdout
    pending = iter(items)
    first = True
    while page := list(islice(pending, chunk)):
        # dumps(page) is "[\n" + the items, indented and joined by ",\n" + "\n]".
        stream.write(("[\n" if first else ",\n") + dumps(page)[2:-2])
        first = False
    stream.write("[]\n" if first else "\n]\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table whose title, headers and cells all print literally."""
    out = Table(title=text(title) if title else None, show_lines=False)
    for column in columns:
        out.add_column(text(column), overflow="fold")
    for row in rows:
        out.add_row(*(text(v) for v in row))
    return out


def console(stderr: bool = False) -> Console:
    """A console that never interprets strings (no markup, emoji codes or highlighting)."""
    return Console(stderr=stderr, soft_wrap=False, markup=False, emoji=False, highlight=False)


def line(value: object) -> None:
    """One line of plain output on stdout, control characters made visible."""
    sys.stdout.write(safe(value) + "\n")


def error(message: object, label: str = "error") -> None:
    """`error: MESSAGE` on stderr; the label red on a terminal, the message literal, no wrap."""
    err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
    err.print(Text.assemble((f"{label}:", "red"), " ", text(message)))


def os_error(exc: OSError) -> str:
    """One line naming the path(s) and the problem: `/data/out: Permission denied`."""
    problem = exc.strerror or str(exc)
    if exc.filename is None:
        return problem
    paths = str(exc.filename)
    if exc.filename2 is not None:
        paths += f" -> {exc.filename2}"
    return f"{paths}: {problem}"


def more_rows(shown: int, total: int | None, noun: str, alternatives: str) -> str:
    """The footer of a table cut at `shown` rows: `showing 100 of 20000 files (use ...)`."""
    of = f"{shown} of {total}" if total is not None else f"the first {shown}"
    return f"showing {of} {noun} (use {alternatives} for all)"
