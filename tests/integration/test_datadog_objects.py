"""`push_objects` (the logic of `ingestflow datadog push`) against a real local HTTP server
that stands in for Datadog's dashboard and monitor APIs, and the shipped deploy/datadog files
against the API client's own models."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datadog_api_capture import API_KEY, APP_KEY, DatadogApiCapture, validation_errors
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor

from ingestflow.adapters.metrics.datadog_objects import (
    DatadogPushError,
    PushAction,
    load_objects,
    push_objects,
)
from ingestflow.config.secrets import Secret

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "datadog"
MONITOR_KEYS = sorted(p.stem for p in (DEPLOY / "monitors").glob("*.json"))


@pytest.fixture
def api() -> Iterator[DatadogApiCapture]:
    with DatadogApiCapture() as server:
        yield server


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of deploy/datadog that a test may change."""
    return Path(shutil.copytree(DEPLOY, tmp_path / "datadog"))


def push(
    api: DatadogApiCapture,
    folder: Path,
    state: Path,
    dry_run: bool = False,
    env: str = "prod",
) -> dict[tuple[str, str], PushAction]:
    actions = push_objects(
        folder, api.url, Secret(API_KEY), Secret(APP_KEY), state, dry_run=dry_run, env=env
    )
    return {(a.kind, a.key): a for a in actions}


def edit(path: Path, change: dict[str, Any]) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    body.update(change)
    path.write_text(json.dumps(body), encoding="utf-8")


# -- the files ------------------------------------------------------------------------------


def test_the_dashboard_file_is_a_valid_dashboard_for_the_api_client() -> None:
    body = json.loads((DEPLOY / "dashboard.json").read_text(encoding="utf-8"))
    assert validation_errors(Dashboard, body) == []
    assert body["title"] == "ingestflow — pipeline overview"
    assert "[ingestflow:key=overview]" in body["description"]
    assert [(v["name"], v["prefix"], v["defaults"]) for v in body["template_variables"]] == [
        ("env", "env", ["*"]),
        ("workflow", "workflow", ["*"]),
    ]


def test_the_dashboard_shows_every_catalogue_query() -> None:
    body = json.loads((DEPLOY / "dashboard.json").read_text(encoding="utf-8"))
    queries = [
        q["query"]
        for w in body["widgets"]
        for r in w["definition"]["requests"]
        for q in r["queries"]
    ]
    scope = "{$env,$workflow}"
    assert queries == [
        f"avg:ingestion.file.processing_time{scope} by {{folder}}",
        f"sum:ingestion.files.processed{scope}.as_count().rollup(sum, 3600)",
        f"sum:ingestion.bytes.processed{scope} by {{file_type}}.as_count()",
        f"p50:ingestion.file.end_to_end_latency{scope}",
        f"p95:ingestion.file.end_to_end_latency{scope}",
        f"max:ingestion.backlog.files{scope} by {{workflow}}",
        f"max:ingestion.backlog.oldest_age{scope} by {{workflow}}",
        f"sum:ingestion.files.failed{scope} by {{error_kind}}.as_count()",
    ]


@pytest.mark.parametrize("key", MONITOR_KEYS)
def test_every_monitor_file_is_a_valid_monitor_for_the_api_client(key: str) -> None:
    body = json.loads((DEPLOY / "monitors" / f"{key}.json").read_text(encoding="utf-8"))
    assert validation_errors(Monitor, body) == []
    assert {"managed-by:ingestflow", f"ingestflow-key:{key}"} <= set(body["tags"])
    assert body["options"]["renotify_interval"] > 0


def test_the_monitors_cover_backlog_age_failures_and_missing_data() -> None:
    bodies = [
        json.loads((DEPLOY / "monitors" / f"{k}.json").read_text("utf-8")) for k in MONITOR_KEYS
    ]
    queries = " ".join(b["query"] for b in bodies)
    assert "ingestion.backlog.oldest_age{env:${env}} by {workflow} >" in queries
    assert "ingestion.files.failed{env:${env}}" in queries
    assert any(b["options"].get("notify_no_data") for b in bodies)


def test_monitors_are_made_for_one_env_as_its_tag_value() -> None:
    objects = load_objects(DEPLOY, "Prod EU")
    monitors = [o for o in objects if o.kind == "monitor"]
    assert monitors and all("${env}" not in json.dumps(o.body) for o in monitors)
    assert all("env:prod_eu" in o.body["tags"] for o in monitors)
    assert all(validation_errors(Monitor, o.body) == [] for o in monitors)


def test_the_capture_server_check_rejects_what_the_client_would_not_parse() -> None:
    body = json.loads((DEPLOY / "dashboard.json").read_text(encoding="utf-8"))
    body["widgets"][0]["definition"]["type"] = "no_such_widget"
    assert validation_errors(Dashboard, body)
    typo = json.loads((DEPLOY / "dashboard.json").read_text(encoding="utf-8"))
    typo["widgets"][0]["definition"]["requets"] = []
    assert validation_errors(Dashboard, typo)


# -- pushing --------------------------------------------------------------------------------


def test_the_first_push_creates_the_dashboard_and_every_monitor(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "deep" / "state" / "datadog.json"
    actions = push(api, folder, state)
    assert {a.action for a in actions.values()} == {"created"}
    assert set(actions) == {("dashboard", "overview")} | {("monitor", k) for k in MONITOR_KEYS}
    assert len(api.dashboards) == 1 and len(api.monitors) == len(MONITOR_KEYS)
    stored = json.loads(state.read_text(encoding="utf-8"))
    ids = stored["sites"][api.url]
    assert ids["dashboard/overview"] == actions["dashboard", "overview"].id
    monitor = api.monitors[int(actions["monitor", "failed-files"].id or 0)]
    assert "env:prod" in monitor["tags"] and "{env:prod}" in monitor["query"]


def test_a_second_push_changes_nothing(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = push(api, folder, state)
    writes = len(api.writes)
    second = push(api, folder, state)
    assert {a.action for a in second.values()} == {"unchanged"}
    assert {a.found_by for a in second.values()} == {"state"}
    assert {k: a.id for k, a in second.items()} == {k: a.id for k, a in first.items()}
    assert len(api.writes) == writes


def test_a_changed_file_updates_only_its_object(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    push(api, folder, state)
    edit(folder / "dashboard.json", {"title": "ingestflow — renamed"})
    edit(folder / "monitors" / "failed-files.json", {"priority": 1})
    writes = len(api.writes)
    actions = push(api, folder, state)
    changed = {k for k, a in actions.items() if a.action == "updated"}
    assert changed == {("dashboard", "overview"), ("monitor", "failed-files")}
    assert len(api.writes) == writes + 2 and all(m == "PUT" for m, _ in api.writes[writes:])
    assert [d["title"] for d in api.dashboards.values()] == ["ingestflow — renamed"]
    assert push(api, folder, state)["monitor", "failed-files"].action == "unchanged"


def test_without_the_state_file_objects_are_found_by_their_marker_not_duplicated(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = push(api, folder, state)
    state.unlink()
    edit(folder / "monitors" / "backlog-oldest-age.json", {"priority": 1})
    writes = len(api.writes)
    again = push(api, folder, state)
    assert {a.found_by for a in again.values()} == {"marker"}
    assert {k: a.id for k, a in again.items()} == {k: a.id for k, a in first.items()}
    assert again["monitor", "backlog-oldest-age"].action == "updated"
    assert len(api.writes) == writes + 1
    assert len(api.dashboards) == 1 and len(api.monitors) == len(MONITOR_KEYS)
    assert json.loads(state.read_text())["sites"][api.url]["dashboard/overview"]


def test_a_stored_id_whose_object_was_deleted_falls_back_to_the_marker(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = push(api, folder, state)
    old_id = first["dashboard", "overview"].id
    with api.lock:
        api.dashboards.pop(str(old_id))
    actions = push(api, folder, state)
    assert actions["dashboard", "overview"].action == "created"
    new_id = actions["dashboard", "overview"].id
    assert new_id != old_id
    assert json.loads(state.read_text())["sites"][api.url]["dashboard/overview"] == new_id


def test_two_dashboards_with_the_same_marker_are_refused(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    body = json.loads((folder / "dashboard.json").read_text(encoding="utf-8"))
    ids = {api.add_dashboard(body), api.add_dashboard(body)}
    actions = push(api, folder, tmp_path / "state.json")
    refused = actions["dashboard", "overview"]
    assert refused.action == "refused" and refused.id is None
    assert all(i in refused.detail for i in ids)
    assert set(api.dashboards) == ids
    assert ("POST", "/api/v1/dashboard") not in api.writes
    assert {actions["monitor", k].action for k in MONITOR_KEYS} == {"created"}


def test_a_monitor_of_another_env_is_not_taken_for_ours(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    staging = push(api, folder, state, env="staging")
    prod = push(api, folder, state, env="prod")
    assert {prod["monitor", k].action for k in MONITOR_KEYS} == {"created"}
    assert prod["dashboard", "overview"].action == "unchanged"
    assert {prod["monitor", k].id for k in MONITOR_KEYS}.isdisjoint(
        {staging["monitor", k].id for k in MONITOR_KEYS}
    )
    assert len(api.monitors) == 2 * len(MONITOR_KEYS)


def test_a_dry_run_reads_but_writes_nothing(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    planned = push(api, folder, state, dry_run=True)
    assert {a.action for a in planned.values()} == {"would create"}
    assert api.writes == [] and not state.exists()
    assert any(m == "GET" for m, _ in api.requests)
    push(api, folder, state)
    edit(folder / "dashboard.json", {"title": "changed"})
    writes, before = len(api.writes), state.read_text()
    planned = push(api, folder, state, dry_run=True)
    assert planned["dashboard", "overview"].action == "would update"
    assert planned["monitor", "failed-files"].action == "unchanged"
    assert len(api.writes) == writes and state.read_text() == before


def test_wrong_keys_give_a_clear_error_without_the_keys(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(DatadogPushError) as caught:
        push_objects(
            folder,
            api.url,
            Secret("wrong-api-key-secret"),
            Secret(APP_KEY),
            tmp_path / "state.json",
            dry_run=False,
            env="prod",
        )
    message = str(caught.value)
    assert "dashboard 'overview'" in message and "403" in message
    assert "wrong-api-key-secret" not in message and APP_KEY not in message


def test_a_body_the_api_rejects_names_the_object_and_the_status(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    edit(folder / "monitors" / "failed-files.json", {"type": "not a monitor type"})
    with pytest.raises(DatadogPushError, match=r"monitor 'failed-files'.*HTTP 400"):
        push(api, folder, tmp_path / "state.json")


def test_an_unreachable_api_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    with DatadogApiCapture() as gone:
        url = gone.url
    with pytest.raises(DatadogPushError, match="cannot reach"):
        push_objects(
            folder, url, Secret(API_KEY), Secret(APP_KEY), tmp_path / "s.json", False, "prod"
        )


def test_a_dashboard_without_a_marker_is_refused_before_any_request(
    api: DatadogApiCapture, folder: Path, tmp_path: Path
) -> None:
    edit(folder / "dashboard.json", {"description": "no marker"})
    with pytest.raises(DatadogPushError, match="marker"):
        push(api, folder, tmp_path / "state.json")
    assert api.requests == []
