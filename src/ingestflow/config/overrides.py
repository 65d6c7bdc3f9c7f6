"""INGESTFLOW_* environment variables that override single configuration values.

`INGESTFLOW_<KEY>` (top-level values), `INGESTFLOW_<SECTION>__<KEY>`,
`INGESTFLOW_WORKFLOWS__<NAME>__<KEY>` (or `...__OPTIONS__<KEY>`), `INGESTFLOW_METRICS__<KEY>`
and `INGESTFLOW_METRICS__<SINK>__<KEY>` (e.g. `..._METRICS__DATADOG__API_KEY_SSM`, creating
the sink's table when the file has none), `INGESTFLOW_ALERTS__<KEY>` and
`INGESTFLOW_ALERTS__NOTIFIERS__<NAME>__<KEY>` (a key of the notifier called NAME in the file:
`..._NOTIFIERS__OPS__TOPIC_ARN`). A deployment thus fills in one packaged file per
environment (Terraform sets the ARNs and names it created). A variable whose first part
is not an ingestflow setting (INGESTFLOW_HOME, INGESTFLOW_LOG_LEVEL: other tools set them) is
ignored with a warning; one that targets a known section or workflow with an unknown key is
an error naming the variable, since it can only be a typo.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from ingestflow.config.alerts import ALERTS_KEYS, NOTIFIER_KEYS
from ingestflow.config.known import unknown_key
from ingestflow.config.metrics import METRICS_KEYS, SINK_KEYS, SINKS
from ingestflow.config.sections import SECTION_KEYS
from ingestflow.config.workflows import MARKER_KEYS, OPTION_KEYS, WORKFLOW_KEYS
from ingestflow.domain.errors import ConfigError

ENV_PREFIX = "INGESTFLOW_"
RESERVED_ENV = frozenset({"INGESTFLOW_ENV", "INGESTFLOW_CONFIG"})
TOP_VALUES = frozenset({"schedule_interval"})
# Keys whose value is text: "2024" or "true" stay text instead of becoming a number or a bool.
_TEXT = {
    "path",
    "bucket",
    "url",
    "queue_url",
    "state_machine_arn",
    "manifest_url",
    "compression",
    "name",
    "memory_limit",
    "prefix",
    "transform",
    "ready_marker",
    "env",
    "site",
    "api_key_env",
    "api_key_file",
    "api_key_ssm",
    "api_key_secret",
    "app_key_env",
    "topic_arn",
    "report_cron",
    "timezone",
    "host",
    "username",
    "from",
    *(
        f"{stem}_{source}"
        for stem in ("password", "url", "secret")
        for source in ("env", "ssm", "secret")
    ),
    *OPTION_KEYS,
}
# Workflow keys a variable may set (the name selects the workflow; options are a table).
_WORKFLOW_VALUES = WORKFLOW_KEYS - {"name", "options"}


def _value(text: str, key: str) -> Any:
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    return text if key in _TEXT and not isinstance(value, str) else value


def _workflow(raw: dict[str, Any], name: str, wanted: str) -> dict[str, Any]:
    workflows = raw.get("workflows", [])
    if not isinstance(workflows, list):
        raise ConfigError("workflows", "must be an array of tables ([[workflows]])")
    found = [w for w in workflows if isinstance(w, dict) and str(w.get("name")).lower() == wanted]
    if not found:
        known = ", ".join(sorted(str(w.get("name")) for w in workflows if isinstance(w, dict)))
        raise ConfigError(name, f"no workflow named {wanted!r} to override (known: {known})")
    if len(found) > 1:
        raise ConfigError(name, f"{wanted!r} matches several workflows; names differ by case")
    return found[0]


def _set_workflow_value(raw: dict[str, Any], name: str, parts: list[str], text: str) -> None:
    if len(parts) == 4 and parts[2] == "options":
        target, key = _workflow(raw, name, parts[1]), parts[3]
        if key not in (*OPTION_KEYS, *MARKER_KEYS):
            raise ConfigError(name, unknown_key(key, (*OPTION_KEYS, *MARKER_KEYS)))
        options = target.setdefault("options", {})
        if not isinstance(options, dict):
            raise ConfigError(name, f"workflows.{parts[1]}.options is not a table")
        options[key] = _value(text, key)
        if key in MARKER_KEYS:
            target.pop(key, None)  # the variable wins over the file, wherever the file set it
        return
    if len(parts) != 3 or parts[2] == "options":
        raise ConfigError(
            name, "expected INGESTFLOW_WORKFLOWS__<NAME>__<KEY> or ...__<NAME>__OPTIONS__<KEY>"
        )
    target, key = _workflow(raw, name, parts[1]), parts[2]
    if key not in _WORKFLOW_VALUES:
        raise ConfigError(name, unknown_key(key, _WORKFLOW_VALUES))
    target[key] = _value(text, key)
    options = target.get("options")
    if key in MARKER_KEYS and isinstance(options, dict):
        options.pop(key, None)  # the variable wins over the file, wherever the file set it


def _table(raw: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    table = raw.setdefault(key, {})
    if not isinstance(table, dict):
        raise ConfigError(name, f"'{key}' is not a table")
    return table


def _set_metrics_value(raw: dict[str, Any], name: str, parts: list[str], text: str) -> None:
    metrics = _table(raw, name, "metrics")
    if len(parts) == 1 and parts[0] in METRICS_KEYS and parts[0] not in SINKS:
        metrics[parts[0]] = _value(text, parts[0])
        return
    if len(parts) == 2 and parts[0] in SINKS:
        sink, key = parts
        if key not in SINK_KEYS[sink]:
            raise ConfigError(name, unknown_key(key, SINK_KEYS[sink]))
        _table(metrics, name, sink)[key] = _value(text, key)
        return
    known = sorted({*(k for k in METRICS_KEYS if k not in SINKS), *(f"{s}__<key>" for s in SINKS)})
    raise ConfigError(name, f"expected INGESTFLOW_METRICS__<KEY> (known: {', '.join(known)})")


def _set_alerts_value(raw: dict[str, Any], name: str, parts: list[str], text: str) -> None:
    alerts = _table(raw, name, "alerts")
    if len(parts) == 1 and parts[0] in ALERTS_KEYS and parts[0] != "notifiers":
        alerts[parts[0]] = _value(text, parts[0])
        return
    if len(parts) != 3 or parts[0] != "notifiers":
        raise ConfigError(
            name, "expected INGESTFLOW_ALERTS__<KEY> or INGESTFLOW_ALERTS__NOTIFIERS__<NAME>__<KEY>"
        )
    _, wanted, key = parts
    notifiers = alerts.get("notifiers", [])
    found = [
        n for n in notifiers if isinstance(n, dict) and str(n.get("name")).lower() == wanted
    ] if isinstance(notifiers, list) else []  # fmt: skip
    if len(found) != 1:
        known = ", ".join(sorted(str(n.get("name")) for n in notifiers if isinstance(n, dict)))
        raise ConfigError(name, f"no notifier named {wanted!r} to override (known: {known})")
    allowed = NOTIFIER_KEYS.get(str(found[0].get("type")), frozenset()) - {"name", "type"}
    if key not in allowed:
        raise ConfigError(name, unknown_key(key, allowed))
    found[0][key] = _value(text, key)


def apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Apply the variables of `environ` to `raw` in place; return the warnings to show."""
    warnings: list[str] = []
    known_heads = sorted({*SECTION_KEYS, *TOP_VALUES, "workflows", "metrics", "alerts"})
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        head = parts[0]
        if head in SECTION_KEYS:
            if len(parts) != 2:
                raise ConfigError(name, f"expected INGESTFLOW_{head.upper()}__<KEY>")
            if parts[1] not in SECTION_KEYS[head]:
                raise ConfigError(name, unknown_key(parts[1], SECTION_KEYS[head]))
            table = raw.setdefault(head, {})
            if not isinstance(table, dict):
                raise ConfigError(name, f"'{head}' is not a table")
            table[parts[1]] = _value(text, parts[1])
        elif head in TOP_VALUES:
            if len(parts) != 1:
                raise ConfigError(
                    name, f"'{head}' is a single value: use INGESTFLOW_{head.upper()}"
                )
            raw[head] = _value(text, head)
        elif head == "workflows":
            _set_workflow_value(raw, name, parts, text)
        elif head == "metrics":
            _set_metrics_value(raw, name, parts[1:], text)
        elif head == "alerts":
            _set_alerts_value(raw, name, parts[1:], text)
        elif head in ("transforms", "env"):
            raise ConfigError(name, f"{head} cannot be set from the environment")
        else:
            known = ", ".join(known_heads)
            warnings.append(f"ignoring {name}: {head!r} is not an ingestflow setting ({known})")
    return warnings
