"""Turning records and transitions into JSON-ready dicts and Rich tables."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from ingestflow.domain.records import FileRecord, Transition


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


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=_default, ensure_ascii=False)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    out = Table(title=title, show_lines=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=False)
