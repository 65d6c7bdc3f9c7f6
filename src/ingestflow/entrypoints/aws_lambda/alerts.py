"""`alerts` (an EventBridge schedule): one pass of the alert rules (stuck, failed, quiet
workflows), their notifications to SNS and the other configured notifiers, and the report
when its cron is due; the same service as the alerts thread beside `ingestflow run`.

Returns {"firing": n, "sent": {notifier: count}, "failed": {notifier: error}}.
"""

from __future__ import annotations

from typing import Any

from ingestflow.bootstrap_lambda import runtime


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = runtime().alerting.run_pass()
    return {"firing": result.firing, "sent": dict(result.sent), "failed": dict(result.failed)}
