"""DatadogSink: metric points to Datadog's HTTP API.

Counts and gauges go to `POST <base_url>/api/v2/series`, distributions to
`POST <base_url>/api/v1/distribution_points` (bodies: datadog_payloads). Every request carries
the key in `DD-API-KEY`, is JSON compressed with deflate (zlib format, `Content-Encoding:
deflate`) and holds at most 500 KB of uncompressed JSON.

The requests are built here with orjson and sent with urllib rather than through
datadog-api-client: its urllib3 pool retries connection errors by itself (retrying is the
forwarder's job, with backoff), the size limit needs the exact bytes sent, its model objects
are slow for tens of thousands of points, and so the sink needs no optional extra. Environment
proxy variables are not used (as with the client); `[metrics.datadog] url` points at a proxy.

Errors (SinkError; no retry inside `send`): unreachable, a timeout, 408, 429, 5xx -> RETRY;
401/403 -> AUTH; another 4xx -> REJECTED. The message names the endpoint, the status and the
start of the answer; never the key (it is masked should the answer echo it).

Order and partial failure: one `send` may need several requests. The v2 series requests
(counts and gauges: Datadog keeps the last value per metric, tags and timestamp, so sending
them again rewrites the same values) go FIRST, the distribution requests (additive: a value
sent twice counts twice) LAST. A failure before any distribution request may have arrived
raises its own kind, and the forwarder's resend is harmless. Once a distribution request was
delivered, or may have been (a timeout or a lost connection after the request was sent), a
later failure is raised as REJECTED: the forwarder then drops the rest instead of sending the
delivered distributions again, so a value may be missing but is never counted twice (the same
rule as after a crash, see services.forwarding).

Points older than `max_age` (Datadog refuses points over an hour old) are dropped by the
forwarder before `send`, and counted as dropped.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson

from ingestflow.adapters.http import direct_opener
from ingestflow.config.secrets import Secret
from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import Point

from .datadog_payloads import distribution_bodies, series_bodies

log = logging.getLogger(__name__)
SERIES_PATH = "/api/v2/series"
DISTRIBUTION_PATH = "/api/v1/distribution_points"
_EXCERPT = 200  # characters of an error answer kept in the message
_RETRY_STATUSES = frozenset({408, 429})
_AUTH_STATUSES = frozenset({401, 403})


class _Failed(Exception):
    """One request failed: its SinkError and whether it may still have been delivered."""

    def __init__(self, error: SinkError, maybe_delivered: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.maybe_delivered = maybe_delivered


class DatadogSink:
    """Sends points to Datadog's API at `base_url` (e.g. https://api.datadoghq.com).

    `tags` (`key:value` strings) are added to every series. `timeout` is in seconds per
    connection attempt and per read. Count points must be whole bucket totals (`counts` is
    "totals"); points over `max_age` seconds old are not sent. Thread-compatible."""

    counts = "totals"
    max_age: float | None = 3300.0  # Datadog refuses points older than 1 h: keep a margin

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        tags: Sequence[str] = (),
        timeout: float = 10.0,
        name: str = "datadog",
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.tags = tuple(tags)
        self.timeout = timeout
        self.name = name
        parts = urlsplit(self.base_url)  # shown in messages: without any user:password@
        self._where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._opener = direct_opener()

    def __repr__(self) -> str:
        return f"DatadogSink(name={self.name!r}, base_url={self._where!r}, tags={self.tags!r})"

    def send(self, points: Sequence[Point], timeout: float | None = None) -> None:
        try:
            series = series_bodies(points, self.tags)
            distributions = distribution_bodies(points, self.tags)
        except (ValueError, orjson.JSONEncodeError) as exc:
            raise SinkError(
                f"datadog: cannot encode the points: {exc}", SinkError.REJECTED
            ) from exc
        for body in series:
            try:
                self._post(SERIES_PATH, body, timeout)
            except _Failed as failed:
                raise failed.error from None
        for index, body in enumerate(distributions):
            try:
                self._post(DISTRIBUTION_PATH, body, timeout)
            except _Failed as failed:
                if index == 0 and not failed.maybe_delivered:
                    raise failed.error from None
                raise SinkError(
                    f"{failed.error} (after {index} of {len(distributions)} distribution"
                    " requests, some possibly delivered: the rest is dropped, not sent again,"
                    " so no value counts twice)",
                    SinkError.REJECTED,
                ) from None

    def close(self) -> None:
        """Nothing to flush: every `send` is complete when it returns (no pooled connection)."""

    # -- one request ----------------------------------------------------------------------

    def _post(self, path: str, body: bytes, timeout: float | None = None) -> None:
        request = urllib.request.Request(
            self.base_url + path,
            data=zlib.compress(body),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": "deflate",
                "Accept": "application/json",
                "User-Agent": "ingestflow",
                "DD-API-KEY": self._api_key.reveal(),
            },
        )
        where = f"datadog {path}"
        try:
            wait = self.timeout if timeout is None else min(self.timeout, timeout)
            with self._opener.open(request, timeout=wait) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                text = self._excerpt(exc.read())
            raise self._failed(
                f"{where}: HTTP {exc.code}: {text}", _kind(exc.code), False
            ) from None
        except urllib.error.URLError as exc:  # connecting or sending: the request did not arrive
            reason = exc.reason if isinstance(exc.reason, str) else _describe(exc.reason)
            raise self._failed(f"{where}: cannot reach {self._where}: {reason}") from None
        except (OSError, http.client.HTTPException) as exc:  # after sending: maybe delivered
            message = f"{where}: no answer from {self._where}: {_describe(exc)}"
            raise self._failed(message, maybe_delivered=True) from None
        self._warn_partial(where, answer)

    def _failed(
        self, message: str, kind: str = SinkError.RETRY, maybe_delivered: bool = False
    ) -> _Failed:
        return _Failed(SinkError(self._mask(message), kind), maybe_delivered)

    def _mask(self, text: str) -> str:
        """`text` with the key hidden (in case an answer or a proxy echoes it back)."""
        key = self._api_key.reveal()
        return text.replace(key, "********") if key else text

    def _excerpt(self, data: bytes) -> str:
        text = self._mask(" ".join(data[: _EXCERPT * 4].decode("utf-8", "replace").split()))
        return repr(text[:_EXCERPT]) if text else "(empty answer)"

    def _warn_partial(self, where: str, answer: bytes) -> None:
        """Datadog answers 202 with `{"errors": [...]}`; log any it reports."""
        try:
            parsed = orjson.loads(answer) if answer else None
        except orjson.JSONDecodeError:
            return
        if isinstance(parsed, dict) and parsed.get("errors"):
            log.warning("%s accepted the payload with errors: %s", where, self._excerpt(answer))


def _kind(status: int) -> str:
    if status in _AUTH_STATUSES:
        return SinkError.AUTH
    if 400 <= status < 500 and status not in _RETRY_STATUSES:
        return SinkError.REJECTED
    return SinkError.RETRY  # 408, 429, 5xx, and unexpected answers (a redirect: misconfigured)


def _describe(exc: BaseException | object) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")
