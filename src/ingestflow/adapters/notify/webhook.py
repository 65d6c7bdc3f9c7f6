"""WebhookNotifier: a digest POSTed as JSON, to a Slack incoming webhook or any HTTP receiver.

Formats (render.py documents both bodies): `slack` sends ONE request per digest,
`{"text": <fallback>, "blocks": [...]}` within Slack's limits; `json` sends ONE request PER
ALERT MESSAGE with the documented, stable body `{"status", "rule", "workflow", "summary",
"items", "sent_at"}`, in the digest's order (an empty digest sends nothing). Delivery is
at least once: when a later request of a digest fails, the whole digest is retried, so a
receiver may see an earlier message again.

Signing (with `secret`): each request carries

    X-Ingestflow-Timestamp: <unix seconds, an integer, as decimal digits>
    X-Ingestflow-Signature: sha256=<lower-case hex HMAC-SHA256>

where the HMAC key is the secret's UTF-8 bytes and the signed content is the ASCII timestamp,
a dot, then the exact body bytes: `<timestamp>.<body>`. A receiver recomputes it over the raw
body it read (before any JSON parsing), compares with `hmac.compare_digest`, and rejects
timestamps more than 5 minutes from its clock (replays).

Answers: 2xx is delivered. 429 (and 503) raise NotifyError with `retry_after` from the
`Retry-After` header (seconds or an HTTP date, capped at an hour), other statuses, redirects
(never followed: they would carry the body elsewhere), timeouts and network errors raise
NotifyError. The URL is a Secret (a Slack webhook URL is a credential): messages name only its
host, and any echo of it in an answer is masked. Proxy variables of the environment are ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ingestflow.adapters.http import direct_opener
from ingestflow.config.secrets import Secret
from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import ConfigError, NotifyError

from .render import clean, json_bodies, slack_payload

FORMATS = ("slack", "json")
SIGNATURE, TIMESTAMP = "X-Ingestflow-Signature", "X-Ingestflow-Timestamp"
MAX_RETRY_AFTER = 3600.0
_EXCERPT = 200
_READ_MAX = 4096


def encode(body: Any) -> bytes:
    """Compact UTF-8 JSON; values that cannot be UTF-8 (lone surrogates from file names)
    fall back to ASCII JSON with `\\u` escapes, so nothing is lost."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def sign(secret: Secret, timestamp: str, body: bytes) -> str:
    """The `X-Ingestflow-Signature` value for `body` sent at `timestamp`."""
    content = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.reveal().encode("utf-8"), content, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), capped."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP dates are UTC
        when = when.replace(tzinfo=dt.UTC)
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


class WebhookNotifier:
    """POSTs each digest to the webhook at `url` in `format` ("slack" or "json")."""

    def __init__(
        self,
        name: str,
        url: Secret,
        format: str,
        secret: Secret | None = None,
        timeout: float = 10.0,
    ) -> None:
        where = f"alerts.notifiers.{name}"
        if format not in FORMATS:
            raise ConfigError(f"{where}.format", f"one of {FORMATS}, not {clean(format)!r}")
        try:
            parts = urlsplit(url.reveal())
            port = parts.port
        except ValueError:
            raise ConfigError(f"{where}.url", "not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.url", "must be an http:// or https:// URL with a host")
        self.name, self.format, self.timeout = name, format, timeout
        self._url, self._secret = url, secret
        self.host = parts.hostname + (f":{port}" if port else "")
        self._where = f"webhook {name}: {self.host}"
        self._opener = direct_opener()

    def __repr__(self) -> str:
        return (
            f"WebhookNotifier(name={self.name!r}, host={self.host!r}, format={self.format!r}, "
            f"signed={self._secret is not None})"
        )

    def bodies(self, digest: Digest) -> list[bytes]:
        """The request bodies for `digest`, exactly as sent."""
        payloads = [slack_payload(digest)] if self.format == "slack" else json_bodies(digest)
        return [encode(p) for p in payloads]

    def send(self, digest: Digest) -> None:
        bodies = self.bodies(digest)
        for index, body in enumerate(bodies):
            try:
                self._post(body)
            except NotifyError as exc:
                if index:
                    note = f" (after {index} of {len(bodies)} messages were delivered)"
                    raise NotifyError(f"{exc}{note}", exc.retry_after) from None
                raise

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "ingestflow"}
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP] = timestamp
            headers[SIGNATURE] = sign(self._secret, timestamp, body)
        request = urllib.request.Request(self._url.reveal(), body, headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(_READ_MAX)
        except urllib.error.HTTPError as exc:
            with exc:
                answer = self._excerpt(exc.read(_READ_MAX))
                wait = retry_after(exc.headers.get("Retry-After"), time.time())
            if exc.code in (429, 503):
                later = f"; retry after {wait:.0f}s" if wait is not None else ""
                busy = f"HTTP {exc.code} (rate limited or busy{later}): {answer}"
                raise self._error(busy, wait) from None
            if 300 <= exc.code < 400:
                raise self._error(f"HTTP {exc.code}: a redirect (not followed)") from None
            raise self._error(f"HTTP {exc.code}: {answer}") from None
        except urllib.error.URLError as exc:  # the URL is in the original: never chain it
            raise self._error(f"cannot reach the server: {_describe(exc.reason)}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._error(f"no answer: {_describe(exc)}") from None

    def _error(self, reason: str, wait: float | None = None) -> NotifyError:
        return NotifyError(f"{self._where}: {self._mask(reason)}", wait)

    def _mask(self, text: str) -> str:
        """`text` on one line, without the URL, its path or its query (where tokens live)."""
        text = clean(" ".join(text.split()))
        url = self._url.reveal()
        parts = urlsplit(url)
        for secret in (url, parts.path if len(parts.path) > 1 else "", parts.query):
            if secret:
                text = text.replace(secret, "********")
        if self._secret is not None and self._secret.reveal():
            text = text.replace(self._secret.reveal(), "********")
        return text

    def _excerpt(self, data: bytes) -> str:
        text = " ".join(data.decode("utf-8", "replace").split())[:_EXCERPT]
        return repr(text) if text else "(empty answer)"


def _describe(exc: BaseException | str | object) -> str:
    if isinstance(exc, str):
        return exc
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
