"""One alerting pass: evaluate the rules, record the result in the ledger (which creates the
notifications, once per problem and event), then send each notifier its due notifications as
one digest. A notifier that fails keeps its notifications for a later pass (backoff, or the
receiver's Retry-After); it never stops the others."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import NotifyError
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import Notifier, StatusStore
from ingestflow.services.alert_rules import evaluate

log = logging.getLogger(__name__)
LAST_EVALUATION = "alerts.last_evaluation"
_LEASE = 120.0  # a sender's hold on the notifications it is sending
_BACKOFF = (30.0, 3600.0)


@dataclass(frozen=True)
class AlertPolicy:
    renotify: float
    max_renotify: int
    env: str = "default"


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
        return result

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
