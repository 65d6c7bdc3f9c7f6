"""The JSON shape of an alert, shared by `ingestflow alerts --json` and `GET /api/alerts`."""

from __future__ import annotations

from typing import Any

from ingestflow.domain.alerts import AlertRecord
from ingestflow.entrypoints.cli import render

RECENT = 7 * 86400.0  # resolved alerts are shown for a week


def alert_json(a: AlertRecord) -> dict[str, Any]:
    return {
        "rule": a.rule,
        "workflow": a.workflow,
        "state": a.state,
        "since": render.iso(a.since),
        "resolved_at": render.iso(a.resolved_at),
        "summary": a.summary,
        "count": a.count,
        "reminders": a.reminders,
        "items": [
            {"key": i.key, "status": i.status, "since": render.iso(i.since), "reason": i.reason}
            for i in a.items
        ],
        "notified": [
            {
                "notifier": d.notifier,
                "event": d.event,
                "outcome": d.status,
                "at": render.iso(d.sent_at),
                "attempts": d.attempts,
                "error": d.last_error,
            }
            for d in a.deliveries
        ],
    }
