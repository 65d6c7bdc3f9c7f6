"""One alerting pass: evaluate the rules, record the result in the ledger (which creates the
notifications, once per problem and event), then send each notifier its due notifications as
one digest. A notifier that fails keeps its notifications for a later pass (backoff, or the
receiver's Retry-After); it never stops the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from ingestflow.domain.alerts import Digest
from ingestflow.domain.cron import CronSchedule
from ingestflow.domain.errors import NotifyError
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import Notifier, StatusStore
from ingestflow.services.alert_rules import deadline_window, evaluate
from ingestflow.services.stale_report import stale_report

log = logging.getLogger(__name__)
LAST_EVALUATION = "alerts.last_evaluation"
LAST_REPORT = "alerts.last_report"
_LEASE = 120.0  # a sender's hold on the notifications it is sending
_BACKOFF = (30.0, 3600.0)


@dataclass(frozen=True)
class AlertPolicy:
    renotify: float
    max_renotify: int
    env: str = "default"
    report_cron: str | None = None  # the daily report's schedule (None: no report)
    timezone: str = "UTC"
    report_when_ok: bool = False


@dataclass
class PassResult:
    firing: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def backoff(attempts: int) -> float:
    low, high = _BACKOFF
    return float(min(high, low * 2 ** max(0, attempts - 1)))


class Alerting:
    def __init__(
        self,
        store: StatusStore,
        workflows: Sequence[Workflow],
        notifiers: Sequence[Notifier],
        policy: AlertPolicy,
        owner: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.workflows, self.notifiers = store, list(workflows), list(notifiers)
        self.policy, self.owner, self.clock = policy, owner, clock

    def run_pass(self) -> PassResult:
        """Evaluate, record, notify."""
        now = self.clock()
        found = evaluate(self.store, self.workflows, now)
        self.store.sync_alerts(
            found.problems,
            found.evaluated,
            [n.name for n in self.notifiers],
            now,
            self.policy.renotify,
            self.policy.max_renotify,
        )
        self.store.set_info(LAST_EVALUATION, repr(now))
        result = PassResult(firing=len(found.problems))
        for notifier in self.notifiers:
            self._send(notifier, now, result)
        self._report(now, result)
        return result

    def _report(self, now: float, result: PassResult) -> None:
        """The report of the latest `report_cron` deadline, sent once (of two evaluators,
        one claims it). The first evaluation only starts the schedule: no report for a
        deadline that passed before alerts ever ran."""
        if self.policy.report_cron is None:
            return
        zone = ZoneInfo(self.policy.timezone)
        due = CronSchedule.parse(self.policy.report_cron).latest_at_or_before(now, zone)
        if due is None:
            return
        last = self.store.get_info(LAST_REPORT)
        if last is not None and float(last) >= due:
            return
        if not self.store.swap_info(LAST_REPORT, last, repr(due)) or last is None:
            return
        report = stale_report(self.store, self.workflows, now, deadline_window)
        since = float(last)
        failed = tuple(r for r in report.failed if (r.end_time or r.upload_time) > since)
        report = replace(report, failed=failed)
        digest = report.digest(self.policy.env)
        if not digest.messages and not self.policy.report_when_ok:
            return
        digest = replace(digest, notes=() if digest.messages else ("all is well",))
        for notifier in self.notifiers:
            try:
                notifier.send(digest)
                result.sent[notifier.name] = result.sent.get(notifier.name, 0) + 1
            except NotifyError as exc:  # a report is not retried: the next one comes
                message = " ".join(str(exc).split())
                result.failed[notifier.name] = message
                log.warning("notifier %s: the report was not sent: %s", notifier.name, message)

    def _send(self, notifier: Notifier, now: float, result: PassResult) -> None:
        taken = self.store.take_deliveries(notifier.name, self.owner, now, _LEASE)
        if not taken:
            return
        messages = tuple(alert.message(d.event) for d, alert in taken)
        digest = Digest("ingestflow alerts", messages, now, self.policy.env)
        ids = [d.id for d, _ in taken]
        try:
            notifier.send(digest)
        except NotifyError as exc:
            attempts = max(d.attempts for d, _ in taken)
            wait = exc.retry_after if exc.retry_after is not None else backoff(attempts)
            message = " ".join(str(exc).split())
            self.store.deliveries_failed(ids, message, now + wait)
            result.failed[notifier.name] = message
            log.warning("notifier %s: %s (retry in %.0f s)", notifier.name, message, wait)
            return
        except Exception as exc:  # a notifier bug must not stop the others
            message = f"{type(exc).__name__}: {exc}"
            self.store.deliveries_failed(ids, message, now + backoff(1))
            result.failed[notifier.name] = message
            log.warning("notifier %s failed: %s", notifier.name, message)
            return
        self.store.deliveries_sent(ids, self.clock())
        result.sent[notifier.name] = len(ids)
