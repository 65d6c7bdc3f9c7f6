"""`ingestflow alerts [--json]`, `alerts check`, `alerts test`, and `ingestflow stale`: alerts
read from and recorded in the ledger; no command here changes a file's status."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ingestflow import bootstrap
from ingestflow.bootstrap_alerts import build_alerting, build_notifier
from ingestflow.config.values import duration
from ingestflow.domain.alerts import OPENED, AlertMessage, Digest
from ingestflow.domain.errors import ConfigError, NotifyError
from ingestflow.entrypoints.alerts_json import RECENT, alert_json
from ingestflow.entrypoints.cli import render
from ingestflow.entrypoints.cli.datadog_command import default_folder
from ingestflow.entrypoints.cli.options import ConfigOpt, EnvOpt, JsonOpt, handles_errors, settings
from ingestflow.services.alert_exports import datadog_stale_monitors, prometheus_rules
from ingestflow.services.alert_rules import deadline_window, next_deadline
from ingestflow.services.alerting import LAST_EVALUATION
from ingestflow.services.stale_report import stale_report

app = typer.Typer(
    help="Alerts: open problems, one evaluation, a test message.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
@handles_errors
def show(
    ctx: typer.Context, config: ConfigOpt = None, env: EnvOpt = None, as_json: JsonOpt = False
) -> None:
    """Firing alerts and those resolved in the last week, with what was sent to whom; each
    `missing` rule's next deadline; the last evaluation."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = settings(config, env)
    now = time.time()
    store = bootstrap.open_store(chosen, read_only=True)
    try:
        alerts = store.alerts(now - RECENT)
        last = store.get_info(LAST_EVALUATION)
    finally:
        store.close()
    deadlines = [
        {"workflow": w.name, "next_deadline": render.iso(next_deadline(w, now))}
        for w in chosen.workflows
        if w.expect_cron is not None
    ]
    last_iso = render.iso(float(last)) if last else None
    if as_json:
        data = {"alerts": [alert_json(a) for a in alerts], "missing_rules": deadlines}
        render.line(render.dumps(data | {"last_evaluation": last_iso}))
        return
    rows = [
        (a.state, a.rule, a.workflow, render.iso(a.since), a.summary, len(a.deliveries))
        for a in alerts
    ]
    columns = ["state", "rule", "workflow", "since", "summary", "notifications"]
    render.console().print(render.table("alerts", columns, rows))
    for d in deadlines:
        render.line(f"missing rule of {d['workflow']}: next deadline {d['next_deadline']}")
    render.line(f"last evaluation: {last_iso or 'never'}")


@app.command()
@handles_errors
def check(config: ConfigOpt = None, env: EnvOpt = None) -> None:
    """Evaluate the rules once, record the alerts, send due notifications, exit (for cron).
    Exit 1 when a notifier failed (its notifications wait for the next check)."""
    chosen = settings(config, env)
    store = bootstrap.open_store(chosen)
    try:
        result = build_alerting(chosen, store).run_pass()
    finally:
        store.close()
    sent = ", ".join(f"{n} {c}" for n, c in result.sent.items()) or "nothing"
    render.line(f"{result.firing} problem(s) firing; sent: {sent}")
    for name, error in result.failed.items():
        render.error(f"notifier {name}: {error}")
    if result.failed:
        raise typer.Exit(1)


@app.command()
@handles_errors
def test(
    notifier: Annotated[
        str | None, typer.Option("--notifier", help="Only this notifier (default: all).")
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Send a test message through the configured notifiers (check SMTP or webhook setup)."""
    chosen = settings(config, env)
    targets = [n for n in chosen.alerts.notifiers if notifier in (None, n.name)]
    if not targets:
        known = ", ".join(n.name for n in chosen.alerts.notifiers) or "none configured"
        raise ConfigError("--notifier", f"no notifier {notifier!r} ({known})")
    now = time.time()
    message = AlertMessage(OPENED, "test", "-", "", "test message from ingestflow alerts test", now)
    failed = False
    for settings_ in targets:
        try:
            build_notifier(settings_).send(
                Digest("ingestflow test message", (message,), now, chosen.metrics.env)
            )
            render.line(f"{settings_.name}: sent")
        except NotifyError as exc:
            render.error(f"{settings_.name}: {exc}")
            failed = True
    if failed:
        raise typer.Exit(1)


@handles_errors
def stale(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="TODO this long is stale (default: stale_after)."),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Also send it to the notifiers.")
    ] = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What is stale (TODO too long), stuck (PROCESSING past its lease), FAILED, and missing
    (a missing rule's last deadline unmet): the daily report, on demand."""
    chosen = settings(config, env)
    workflows = chosen.workflows
    if older_than is not None:
        limit = duration(older_than, "--older-than", positive=True)
        workflows = tuple(replace(w, stale_after=limit) for w in workflows)
    now = time.time()
    store = bootstrap.open_store(chosen, read_only=not notify)
    try:
        report = stale_report(store, workflows, now, deadline_window)
        if notify:
            for n in chosen.alerts.notifiers:
                try:
                    build_notifier(n).send(report.digest(chosen.metrics.env))
                except NotifyError as exc:
                    render.error(f"notifier {n.name}: {exc}")
    finally:
        store.close()
    if as_json:
        render.line(render.dumps(report.as_json()))
        return
    for title, columns, rows in report.tables():
        render.console().print(render.table(title, columns, rows))


@app.command()
@handles_errors
def export(
    target: Annotated[str, typer.Argument(help="prometheus (a rules file) or datadog")],
    folder: Annotated[
        Path | None,
        typer.Option("--folder", help="datadog: write the dashboard and monitors here."),
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """The alert rules for external monitoring, from the workflows' own settings: a Prometheus
    rules file on standard output, or (datadog) the shipped dashboard and monitors plus one
    stale monitor per workflow written to --folder, for `ingestflow datadog push --folder`."""
    chosen = settings(config, env)
    if target == "prometheus":
        sys.stdout.write(render.safe(prometheus_rules(chosen.workflows, chosen.metrics.env)))
        return
    if target != "datadog":
        raise ConfigError("export", f"unknown target {target!r} (prometheus, datadog)")
    if folder is None:
        raise ConfigError("--folder", "is needed for datadog (where to write the files)")
    shutil.copytree(default_folder(), folder, dirs_exist_ok=True)
    (folder / "monitors" / "backlog-oldest-age.json").unlink(missing_ok=True)  # per workflow now
    for key, body in datadog_stale_monitors(chosen.workflows).items():
        path = folder / "monitors" / f"{key}.json"
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    render.line(f"wrote {folder}: push it with ingestflow datadog push --folder {folder}")
