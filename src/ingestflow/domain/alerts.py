"""Alerts: the problems ingestflow tells people about, and the messages that carry them (pure).

Rules (evaluated on the scheduler's ticks and by `ingestflow alerts check`):
- `stale`: TODO files older than their workflow's `stale_after`;
- `stuck`: PROCESSING files past their lease (their worker died; the reaper has not run yet);
- `failed`: files that ended FAILED, with their error;
- `missing`: at a workflow's `expect_cron` deadline (in its `timezone`), fewer than
  `expect_min_files` files arrived in the `expect_window` before it.

One open problem is one alert (rule, workflow, group): `firing -> resolved`. A message is sent
when it starts firing, again every `renotify` while it fires (at most `max_renotify` times) and
once when it resolves. Messages of one evaluation are grouped into one digest per notifier.
Text inside items (keys, errors) is data: each renderer escapes it for its medium.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STALE, STUCK, FAILED, MISSING = "stale", "stuck", "failed", "missing"
RULES = (STALE, STUCK, FAILED, MISSING)
FIRING, RESOLVED = "firing", "resolved"
# What a message says of its alert.
OPENED, REMINDER, CLOSED = "firing", "reminder", "resolved"

DEFAULT_RENOTIFY = 4 * 3600.0
DEFAULT_MAX_RENOTIFY = 10
MAX_ITEMS = 50  # files listed per alert in a message ("+N more" beyond)


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One file behind an alert (a row of the report table)."""

    workflow: str
    prefix: str
    bucket: str
    key: str
    status: str
    since: float  # upload time (stale, missing), lease end (stuck), end time (failed)
    reason: str  # e.g. "TODO for 6h 12m (stale_after 5h)", the file's error


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found now. `group` tells problems of one rule and workflow apart (a missing
    rule's deadline; '' for the others). `count` may exceed len(items) (items are capped)."""

    rule: str
    workflow: str
    group: str
    summary: str  # one line, e.g. "3 files in TODO longer than 5h"
    items: tuple[AlertItem, ...] = ()
    count: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.workflow, self.group)


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """What one notification says about one alert: `event` is OPENED, REMINDER or CLOSED."""

    event: str
    rule: str
    workflow: str
    group: str
    summary: str
    since: float  # when the alert started firing
    items: tuple[AlertItem, ...] = ()
    count: int = 0

    @property
    def status(self) -> str:
        """`firing` or `resolved` (the json webhook body's `status`)."""
        return RESOLVED if self.event == CLOSED else FIRING


@dataclass(frozen=True, slots=True)
class Digest:
    """The messages of one evaluation for one notifier (one e-mail, one webhook call), or a
    report (`title` says which). `sent_at` is the evaluation time."""

    title: str
    messages: tuple[AlertMessage, ...]
    sent_at: float
    env: str = "default"
    notes: tuple[str, ...] = field(default=())

    @property
    def firing(self) -> tuple[AlertMessage, ...]:
        return tuple(m for m in self.messages if m.status == FIRING)

    @property
    def resolved(self) -> tuple[AlertMessage, ...]:
        return tuple(m for m in self.messages if m.status == RESOLVED)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One notification of one alert to one notifier, as the ledger tracks it: `event` OPENED,
    REMINDER or CLOSED; `status` pending, sending, sent or failed (failed ones are retried at
    `next_attempt`)."""

    id: int
    alert_id: int
    notifier: str
    event: str
    status: str
    attempts: int
    created_at: float
    next_attempt: float | None = None
    sent_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as the ledger keeps it: one row per problem, `state` FIRING or RESOLVED."""

    id: int
    rule: str
    workflow: str
    group: str
    state: str
    since: float
    summary: str
    items: tuple[AlertItem, ...]
    count: int
    reminders: int
    resolved_at: float | None = None
    deliveries: tuple[DeliveryRecord, ...] = ()

    def message(self, event: str) -> AlertMessage:
        return AlertMessage(
            event, self.rule, self.workflow, self.group, self.summary, self.since, self.items,
            self.count,
        )  # fmt: skip
