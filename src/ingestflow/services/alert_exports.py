"""The alert rules exported for external monitoring, from the same workflow settings the
built-in rules use, so that "stale" means the same everywhere: a Prometheus alert-rules file,
and Datadog monitors (added to the shipped ones by `ingestflow alerts export datadog`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ingestflow.domain.metrics import tag_value
from ingestflow.domain.workflow import Workflow
from ingestflow.services.alert_rules import human


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def prometheus_rules(workflows: Sequence[Workflow], env: str) -> str:
    """A Prometheus rules file (YAML): per workflow, oldest TODO file older than its
    `stale_after`; any failed file in 10 minutes; and no backlog gauge at all (nothing
    exports the ledger's metrics)."""
    e = tag_value(env)
    lines = ["groups:", "  - name: ingestflow", "    rules:"]
    for w in workflows:
        wf = tag_value(w.name)
        stale_text = f"files of {w.name} wait in TODO over {human(w.stale_after)}"
        lines += [
            f"      - alert: {_quoted('IngestflowStale_' + w.name)}",
            f"        expr: {_quoted(_stale_expr(e, wf, w.stale_after))}",
            "        for: 5m",
            "        labels:",
            f"          rule: {_quoted('stale')}",
            f"          workflow: {_quoted(wf)}",
            "        annotations:",
            f"          summary: {_quoted(stale_text)}",
            f"      - alert: {_quoted('IngestflowFailed_' + w.name)}",
            f"        expr: {_quoted(_failed_expr(e, wf))}",
            "        labels:",
            f"          rule: {_quoted('failed')}",
            f"          workflow: {_quoted(wf)}",
            "        annotations:",
            f"          summary: {_quoted(f'files of {w.name} FAILED in the last 10 minutes')}",
        ]
    lines += [
        f"      - alert: {_quoted('IngestflowNoData')}",
        f"        expr: {_quoted(f'absent(ingestion_backlog_files{{env={_quoted(e)}}})')}",
        "        for: 20m",
        "        annotations:",
        f"          summary: {_quoted('no ingestflow backlog gauge: nothing serves /metrics')}",
    ]
    return "\n".join(lines) + "\n"


def _stale_expr(env: str, workflow: str, stale_after: float) -> str:
    return (
        f'max(ingestion_backlog_oldest_age_seconds{{env="{env}",workflow="{workflow}"}})'
        f" > {stale_after:g}"
    )


def _failed_expr(env: str, workflow: str) -> str:
    return (
        f'sum(increase(ingestion_files_failed_total{{env="{env}",workflow="{workflow}"}}[10m])) > 0'
    )


def datadog_stale_monitors(workflows: Sequence[Workflow]) -> dict[str, dict[str, Any]]:
    """One monitor per workflow on its own `stale_after` (file stem -> monitor body, with the
    `${env}` placeholder `ingestflow datadog push` fills in)."""
    monitors = {}
    for w in workflows:
        wf, limit = tag_value(w.name), w.stale_after
        key = f"stale-{wf}"
        monitors[key] = {
            "name": f"[ingestflow ${{env}}] {w.name}: a file waits in TODO over {human(limit)}",
            "type": "metric alert",
            "query": (
                f"max(last_5m):max:ingestion.backlog.oldest_age{{env:${{env}},workflow:{wf}}}"
                f" > {limit:g}"
            ),
            "message": (
                f"The oldest file waiting (TODO) in workflow {w.name} (env ${{env}}) is"
                f" {{{{value}}}} s old, over its stale_after of {human(limit)}."
            ),
            "tags": ["managed-by:ingestflow", f"ingestflow-key:{key}", "env:${env}"],
            "options": {
                "thresholds": {"critical": limit},
                "notify_no_data": False,
                "renotify_interval": 240,
                "include_tags": True,
            },
        }
    return monitors
