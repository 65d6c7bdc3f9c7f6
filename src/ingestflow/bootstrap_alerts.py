"""The composition root's alerts half: Settings -> notifiers and the alerting service, and the
thread that runs it beside `ingestflow run` (notifiers may be slow; the pipeline never waits)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from ingestflow.adapters.processes import owner_id
from ingestflow.adapters.secrets import resolve_secret
from ingestflow.config.alerts import NotifierSettings
from ingestflow.config.secrets import Secret, SecretRef
from ingestflow.config.settings import Settings
from ingestflow.ports import Notifier, StatusStore
from ingestflow.services.alerting import Alerting, AlertPolicy

log = logging.getLogger(__name__)
# Alerts are evaluated on the scheduler's ticks, at most this often: their thresholds are
# minutes to hours, and an idle `run` over a large ledger must stay cheap.
MIN_ALERT_INTERVAL = 10.0


def alert_interval(settings: Settings) -> float:
    return max(MIN_ALERT_INTERVAL, settings.schedule_interval)


def _secret(ref: SecretRef | None, environ: Mapping[str, str]) -> Secret | None:
    return None if ref is None else resolve_secret(ref, environ)


def build_notifier(n: NotifierSettings, environ: Mapping[str, str] | None = None) -> Notifier:
    """The notifier `n` describes, its secrets read (AWS stores once per process). Raises
    ConfigError for a secret that cannot be read or a setting the adapter refuses."""
    environ = os.environ if environ is None else environ
    o = n.options
    if n.type == "smtp":
        from ingestflow.adapters.notify.smtp import SmtpNotifier

        password = _secret(o["password"], environ)
        return SmtpNotifier(
            n.name,
            o["host"],
            o["port"],
            o["security"],
            o["username"],
            password,
            o["from"],
            o["to"],
            verify=o["verify"],
        )
    if n.type == "webhook":
        from ingestflow.adapters.notify.webhook import WebhookNotifier

        url = _secret(o["url_ref"], environ) or Secret(o["url"])
        return WebhookNotifier(n.name, url, o["format"], _secret(o["secret"], environ))
    if n.type == "sns":
        from ingestflow.adapters.notify.sns import SNSNotifier

        return SNSNotifier(n.name, o["topic_arn"])
    from ingestflow.adapters.notify.stdout import StdoutNotifier

    return StdoutNotifier(n.name)


def build_alerting(
    settings: Settings,
    store: StatusStore,
    environ: Mapping[str, str] | None = None,
    owner: str | None = None,
) -> Alerting:
    alerts = settings.alerts
    notifiers = [build_notifier(n, environ) for n in alerts.notifiers]
    policy = AlertPolicy(
        alerts.renotify,
        alerts.max_renotify,
        settings.metrics.env,
        report_cron=alerts.report_cron if alerts.notifiers else None,
        timezone=alerts.timezone,
        report_when_ok=alerts.report_when_ok,
    )
    return Alerting(store, settings.workflows, notifiers, policy, owner or owner_id())


class AlertThread(threading.Thread):
    """Runs an alerting pass every `interval` seconds until stopped."""

    def __init__(self, alerting: Alerting, interval: float) -> None:
        super().__init__(name="alerts", daemon=True)
        self.alerting, self.interval = alerting, interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.alerting.run_pass()
            except Exception:  # the ledger busy: the next pass tries again
                log.warning("alert evaluation failed; retrying", exc_info=True)
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=60)


def start_alerting(settings: Settings, store: StatusStore) -> AlertThread | None:
    """Alerts beside `run` when notifiers are configured (None otherwise)."""
    if not settings.alerts.notifiers:
        return None
    thread = AlertThread(build_alerting(settings, store), alert_interval(settings))
    thread.start()
    return thread
