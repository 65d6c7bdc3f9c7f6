"""Datadog dashboards and monitors as code: the logic of `ingestflow datadog push`.

`<folder>/*.json` are dashboards (POST /api/v1/dashboard bodies; the description carries a
marker `[ingestflow:key=<key>]`); `<folder>/monitors/<key>.json` are monitors (POST
/api/v1/monitor bodies; `${env}` becomes the env's tag value; the tags `managed-by:ingestflow`,
`ingestflow-key:<key>` and `env:<env>` are always set).

Idempotent like Terraform and datadog-sync-cli (research/monitoring.md §1d): ids of created or
adopted objects are kept in a state file, per API base URL; an object is written (PUT) only when
a field we set differs (fields the server adds never count; "metric alert" == "query alert").
Without a usable id the marker finds it: one match is adopted, none is created, two or more
are refused, since updating either would be a guess.

urllib on purpose: no extra dependency, and redirects are refused so the keys never follow one.
The keys go only into the DD-API-KEY / DD-APPLICATION-KEY headers, never into a message.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestflow.adapters.http import direct_opener
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import IngestflowError
from ingestflow.domain.metrics import tag_value

MANAGED_TAG = "managed-by:ingestflow"
KEY_TAG = "ingestflow-key:"
ENV_PLACEHOLDER = "${env}"
_MARKER = re.compile(r"\[ingestflow:key=([a-z0-9][a-z0-9_.-]*)\]")
_MONITOR_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_ALERT_TYPES = ("metric alert", "query alert")  # one monitor type, as the API may return it
_PAGE = 100


class DatadogPushError(IngestflowError):
    """A dashboard or monitor could not be read, pushed or recorded. The message names the
    object (or file) and the HTTP status; it never holds a key."""


@dataclass(frozen=True)
class PushAction:
    """What happened to one object. `action`: created, updated, unchanged, refused, or in a
    dry run would create / would update. `found_by`: state (the stored id), marker, or None
    (new). `detail` explains a refusal."""

    kind: str
    key: str
    action: str
    id: str | None
    found_by: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class LocalObject:
    kind: str  # "dashboard" or "monitor"
    key: str
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.key}'"


def push_objects(
    folder: Path,
    base_url: str,
    api_key: Secret,
    app_key: Secret,
    state_file: Path,
    dry_run: bool,
    env: str,
) -> list[PushAction]:
    """Create or update every object under `folder`, in file order. A dry run only reads
    (GET) and reports; it writes nothing, not even the state file. Raises DatadogPushError
    on a bad file, an unreadable state file or an HTTP error; a refused object is an action
    (the caller exits non-zero), and the other objects are still pushed."""
    objects = load_objects(folder, env)
    api = _Api(base_url, api_key, app_key)
    state = _State(state_file, api.base)
    return [_push(api, state, obj, tag_value(env), dry_run) for obj in objects]


def load_objects(folder: Path, env: str) -> list[LocalObject]:
    """The dashboards and monitors under `folder`, checked and ready to send."""
    env_value = tag_value(env)
    objects = []
    for path in sorted(folder.glob("*.json")):
        body = _read(path)
        found = _MARKER.search(str(body.get("description") or ""))
        if not found:
            raise DatadogPushError(f"{path}: the description has no [ingestflow:key=...] marker")
        objects.append(LocalObject("dashboard", found.group(1), body))
    for path in sorted((folder / "monitors").glob("*.json")):
        if not _MONITOR_KEY.match(path.stem):
            raise DatadogPushError(f"{path}: name it <key>.json with a-z, 0-9, '_', '-', '.'")
        body = _substitute(_read(path), env_value)
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise DatadogPushError(f"{path}: 'tags' must be a list of strings")
        ours = {MANAGED_TAG, KEY_TAG + path.stem, f"env:{env_value}"}
        body["tags"] = sorted(set(tags) | ours)
        objects.append(LocalObject("monitor", path.stem, body))
    if not objects:
        raise DatadogPushError(f"{folder}: no dashboard (*.json) or monitor (monitors/*.json)")
    labels = [o.label for o in objects]
    if duplicates := sorted({label for label in labels if labels.count(label) > 1}):
        raise DatadogPushError(f"{folder}: two files define {', '.join(duplicates)}")
    return objects


def _read(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatadogPushError(f"{path}: cannot read it as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DatadogPushError(f"{path}: expected a JSON object")
    return body


def _substitute(value: Any, env: str) -> Any:
    if isinstance(value, str):
        return value.replace(ENV_PLACEHOLDER, env)
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    return value


# -- one object -------------------------------------------------------------------------


def _push(api: _Api, state: _State, obj: LocalObject, env: str, dry_run: bool) -> PushAction:
    slot = f"{obj.kind}/{obj.key}" if obj.kind == "dashboard" else f"monitor/{env}/{obj.key}"
    base = f"/api/v1/{obj.kind}"
    remote, found_by = None, None
    stored = state.ids.get(slot)
    if stored is not None:
        remote = api.call("GET", f"{base}/{_quote(stored)}", obj.label, missing_ok=True)
        found_by = "state" if remote is not None else None
    if remote is None:
        matches = _by_marker(api, obj, env)
        if len(matches) > 1:
            ids = ", ".join(sorted(str(m["id"]) for m in matches))
            detail = f"{len(matches)} {obj.kind}s carry its marker (ids {ids}); delete all but one"
            return PushAction(obj.kind, obj.key, "refused", None, "marker", detail)
        if matches:
            found_by = "marker"
            remote = matches[0]
            if obj.kind == "dashboard":  # the list holds summaries only
                remote = api.call("GET", f"{base}/{_quote(remote['id'])}", obj.label)
    if remote is None:
        if dry_run:
            return PushAction(obj.kind, obj.key, "would create", None)
        created = api.call("POST", base, obj.label, obj.body)
        new_id = _id_of(created, obj)
        state.put(slot, new_id)
        return PushAction(obj.kind, obj.key, "created", str(new_id))
    remote_id = _id_of(remote, obj)
    if not dry_run and stored != remote_id:
        state.put(slot, remote_id)
    if _same(obj, remote):
        return PushAction(obj.kind, obj.key, "unchanged", str(remote_id), found_by)
    if dry_run:
        return PushAction(obj.kind, obj.key, "would update", str(remote_id), found_by)
    api.call("PUT", f"{base}/{_quote(remote_id)}", obj.label, obj.body)
    return PushAction(obj.kind, obj.key, "updated", str(remote_id), found_by)


def _by_marker(api: _Api, obj: LocalObject, env: str) -> list[dict[str, Any]]:
    if obj.kind == "monitor":
        tag = KEY_TAG + obj.key
        found = api.call("GET", "/api/v1/monitor", obj.label, query={"monitor_tags": tag})
        return [
            m
            for m in _list(found, obj)
            if tag in m.get("tags", []) and f"env:{env}" in m.get("tags", [])
        ]
    marker = f"[ingestflow:key={obj.key}]"
    matches, start = [], 0
    while True:
        query = {"count": str(_PAGE), "start": str(start)}
        page = api.call("GET", "/api/v1/dashboard", obj.label, query=query)
        summaries = _list(page.get("dashboards") if isinstance(page, dict) else None, obj)
        matches += [d for d in summaries if marker in str(d.get("description") or "")]
        if len(summaries) < _PAGE:
            return matches
        start += _PAGE


def _list(value: Any, obj: LocalObject) -> list[dict[str, Any]]:
    if isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value):
        return value
    raise DatadogPushError(f"{obj.label}: the API's list is not what Datadog returns")


def _id_of(body: Any, obj: LocalObject) -> str | int:
    value = body.get("id") if isinstance(body, dict) else None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DatadogPushError(f"{obj.label}: the API's answer has no id")
    return value


def _quote(value: object) -> str:
    return urllib.parse.quote(str(value), safe="")


def _same(obj: LocalObject, remote: Mapping[str, Any]) -> bool:
    """Whether every field we set is already so (fields only the server has are ignored)."""
    theirs = dict(remote)
    if obj.kind == "monitor":
        if theirs.get("type") in _ALERT_TYPES and obj.body.get("type") in _ALERT_TYPES:
            theirs["type"] = obj.body["type"]
        if isinstance(theirs.get("tags"), list):
            theirs["tags"] = sorted(set(theirs["tags"]))
    return _contained(obj.body, theirs)


def _contained(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            k in theirs and _contained(v, theirs[k]) for k, v in ours.items()
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(ours) == len(theirs)
            and all(map(_contained, ours, theirs))
        )
    numbers = {int, float}
    return (type(ours) is type(theirs) or {type(ours), type(theirs)} <= numbers) and ours == theirs


# -- the state file ---------------------------------------------------------------------


class _State:
    """Object ids per API base URL: `{"version": 1, "sites": {url: {slot: id}}}`. Written
    after every new id, atomically, so an interrupted push still remembers what it made."""

    def __init__(self, path: Path, base_url: str) -> None:
        self.path, self.base_url = path, base_url
        self.data: dict[str, Any] = {"version": 1, "sites": {}}
        if path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                self.data = {}
            sites = self.data.get("sites") if isinstance(self.data, dict) else None
            if not isinstance(sites, dict) or not isinstance(sites.get(base_url, {}), dict):
                raise DatadogPushError(
                    f"state file {path} is unreadable; delete it (objects are then found by"
                    " their marker)"
                )
        self.ids: dict[str, str | int] = self.data["sites"].setdefault(base_url, {})

    def put(self, slot: str, object_id: str | int) -> None:
        self.ids[slot] = object_id
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(
                json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            os.replace(temporary, self.path)
        except OSError as exc:
            raise DatadogPushError(f"cannot write the state file {self.path}: {exc}") from None


# -- HTTP -------------------------------------------------------------------------------


class _Api:
    def __init__(self, base_url: str, api_key: Secret, app_key: Secret) -> None:
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise DatadogPushError(
                f"the Datadog API URL must start with https:// (or http://): {base_url!r}"
            )
        self.base = base_url.rstrip("/")
        self._headers = {
            "DD-API-KEY": api_key.reveal(),
            "DD-APPLICATION-KEY": app_key.reveal(),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        # No proxy from the environment: the keys go to the configured URL only.
        self._opener = direct_opener()

    def call(
        self,
        method: str,
        path: str,
        what: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """The decoded JSON answer; None for a 404 when `missing_ok`."""
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data, self._headers, method=method)
        try:
            with self._opener.open(request, timeout=30.0) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = self._clean(exc.read(2000).decode("utf-8", "replace"))
            if exc.code == 404 and missing_ok:
                return None
            hint = " (check the API and application keys)" if exc.code in (401, 403) else ""
            raise DatadogPushError(
                f"{what}: {method} {path} returned HTTP {exc.code}{hint}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            shown = (
                urllib.parse.urlsplit(self.base)
                ._replace(netloc=urllib.parse.urlsplit(self.base).hostname or "")
                .geturl()
            )
            raise DatadogPushError(f"{what}: cannot reach {shown}: {reason}") from None
        try:
            return json.loads(payload) if payload.strip() else None
        except ValueError:
            raise DatadogPushError(f"{what}: {method} {path} did not answer JSON") from None

    def _clean(self, text: str) -> str:
        """A server's error text on one line, cut short, with any key blanked out."""
        for secret in (self._headers["DD-API-KEY"], self._headers["DD-APPLICATION-KEY"]):
            text = text.replace(secret, "***") if secret else text
        return " ".join(text.split())[:300] or "(no detail)"
