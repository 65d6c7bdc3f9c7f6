"""What the SQL ledgers (SQLite, PostgreSQL) share: the column lists of their alert, delivery
and metrics-sink tables and the mapping of those rows to domain values. Only the SQL
dialect differs between the adapters; these shapes do not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ingestflow.domain.alerts import AlertItem, AlertRecord, DeliveryRecord, Problem
from ingestflow.domain.metrics import SinkState

ALERT_SELECT = (
    "SELECT id, rule, workflow, grp, state, since, summary, items, count, reminders,"
    " resolved_at FROM alerts"
)
DELIVERY_SELECT = (
    "SELECT id, alert_id, notifier, event, status, attempts, created_at, next_attempt, sent_at,"
    " last_error FROM alert_deliveries"
)
SINK_COLUMNS = (
    "sink, position, in_flight, owner, lease_until, last_error, last_success, dropped, updated_at"
)
TRANSITION_COLUMNS = (
    "id, bucket, key, workflow, from_status, to_status, at, reason, old_image, new_image"
)


def items_json(problem: Problem) -> str:
    """A problem's items as the `alerts.items` column holds them (a JSON array of arrays)."""
    fields = ("workflow", "prefix", "bucket", "key", "status", "since", "reason")
    return orjson.dumps([[getattr(i, f) for f in fields] for i in problem.items]).decode()


def alert_record(row: Sequence[Any], deliveries: Sequence[DeliveryRecord] = ()) -> AlertRecord:
    """A row of ALERT_SELECT."""
    items = tuple(AlertItem(*i) for i in orjson.loads(row[7]))
    return AlertRecord(
        int(row[0]), row[1], row[2], row[3], row[4], float(row[5]), row[6], items, int(row[8]),
        int(row[9]), row[10], tuple(deliveries),
    )  # fmt: skip


def delivery_record(row: Sequence[Any]) -> DeliveryRecord:
    """A row of DELIVERY_SELECT."""
    return DeliveryRecord(*row)


def sink_state(row: Sequence[Any]) -> SinkState:
    """A row of SINK_COLUMNS."""
    return SinkState(
        str(row[0]),
        int(row[1]),
        None if row[2] is None else int(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        int(row[7]),
        float(row[8]),
    )
