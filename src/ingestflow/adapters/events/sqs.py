"""SQSEventSource: object-created events from an S3 notification queue, for self-hosted workers.

`SQSEventSource(queue_url, bucket, prefix)` long-polls the queue in a background thread
(ReceiveMessage, up to 10 messages, `wait_time` seconds per call) and hands the keys of
`s3://bucket/prefix` out through `drain`, relative to the prefix as S3ObjectStore lists them
(messages are parsed by `sqs_messages.parse_message`: S3 notifications, in an SNS envelope or
not, and EventBridge "Object Created" events).

A message is deleted only once its keys are safe in the ledger: `drain` remembers the messages
whose keys it handed out and `ack()` deletes them (DeleteMessageBatch, failed entries retried);
the pipeline calls it after registering the keys. Until then the thread extends their
visibility (ChangeMessageVisibility) whenever half the visibility timeout passed. Messages not
acknowledged by the next `drain` (or by `stop`) are given up: no longer extended, they come
back after the visibility timeout; registration is idempotent, so a key announced twice costs
one more look. Messages received but not yet handed out when the source stops are released
(visibility 0) for other workers.

Messages that announce nothing for this landing store (`s3:TestEvent`, removals, other buckets
or prefixes) are deleted at once. A malformed message (not JSON, an unknown shape) is logged in
one line and left alone: it comes back after each visibility timeout and, once the queue's
redrive policy's `maxReceiveCount` is reached, SQS moves it to the dead-letter queue. Give the
queue a redrive policy, or such a message is received forever.

`stop()` returns within about `wait_time` seconds (the poll in progress is not interrupted):
the default 2 s keeps it prompt at about 1.3 million empty receives a month per worker; up to
20 s costs fewer requests and stops slower. Events are hints: the reconciliation listing is the
safety net for anything missed. boto3 is imported when the source is made (the `aws` extra);
endpoint, region and credentials come from the standard AWS configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestflow.adapters.events.sqs_messages import normalize_prefix, parse_message
from ingestflow.adapters.storage.s3 import problem
from ingestflow.domain.errors import MissingExtraError, ObjectStoreError

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
    )

log = logging.getLogger(__name__)

MAX_WAIT_TIME = 20  # ReceiveMessage's longest long poll
MAX_VISIBILITY = 43_200  # 12 hours
_BATCH = 10  # entries per DeleteMessageBatch / ChangeMessageVisibilityBatch
_DELETE_ATTEMPTS = 3
_ERROR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
_LOGGED_BODY = 200  # characters of a malformed body quoted in its log line


@dataclass
class _Held:
    """A received message whose keys are (or will be) handed out, not yet deleted."""

    handle: str
    keys: tuple[str, ...]
    extended: float  # monotonic time its visibility was last set


class SQSEventSource:
    """EventSource over the SQS queue `queue_url` receiving the notifications of `bucket`;
    keys outside `prefix` are ignored, the others returned relative to it. `wait_time`: the
    long poll of each ReceiveMessage (0-20 s); `visibility`: the visibility timeout to receive
    with (seconds; None: the queue's own). `client`: an SQS client to use (by default one is
    built from the standard AWS configuration)."""

    def __init__(
        self,
        queue_url: str,
        bucket: str,
        prefix: str = "",
        *,
        wait_time: int = 2,
        visibility: int | None = None,
        client: SQSClient | None = None,
    ) -> None:
        if not 0 <= wait_time <= MAX_WAIT_TIME:
            raise ValueError(f"wait_time must be 0 to {MAX_WAIT_TIME} seconds: {wait_time!r}")
        if visibility is not None and not 1 <= visibility <= MAX_VISIBILITY:
            raise ValueError(f"visibility must be 1 to {MAX_VISIBILITY} seconds: {visibility!r}")
        self.queue_url = queue_url
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.wait_time = int(wait_time)
        self.visibility = visibility
        try:
            import boto3
            from boto3.exceptions import Boto3Error
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise MissingExtraError("aws", "the SQS event source") from None
        self._aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError, Boto3Error)
        # The read timeout must outlast the long poll.
        self._client: SQSClient = client or boto3.session.Session().client(
            "sqs",
            config=Config(user_agent_extra="ingestflow", read_timeout=MAX_WAIT_TIME + 20),
        )
        self._lock = threading.Condition()
        self._ready: list[_Held] = []  # received, keys not handed out yet
        self._handed: list[_Held] = []  # keys handed out by the last drain, not acked
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._timeout = visibility or 30

    def __repr__(self) -> str:
        return f"SQSEventSource({self.queue_url!r}, s3://{self.bucket}/{self.prefix})"

    # -- the EventSource port -------------------------------------------------------------

    def start(self) -> None:
        """Start polling. Raises ObjectStoreError when the queue cannot be read (no such
        queue, access denied, no credentials)."""
        if self._thread is not None:
            return
        try:
            attributes = self._client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
        except self._aws_errors as exc:
            raise ObjectStoreError(f"{self.queue_url}: {problem(exc)[1]}") from None
        if self.visibility is None:
            self._timeout = int(attributes.get("VisibilityTimeout", "30"))
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sqs-event-source", daemon=True)
        self._thread.start()

    def drain(self, timeout: float) -> list[str]:
        """Keys received since the last call, waiting up to `timeout` seconds for the first.
        Messages handed out by the previous call and not acknowledged are given up (they come
        back after the visibility timeout)."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._handed:
                log.debug("%d SQS message(s) not acknowledged: given up", len(self._handed))
            self._handed = []
            while not self._ready and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            self._handed, self._ready = self._ready, []
            return list(dict.fromkeys(k for held in self._handed for k in held.keys))

    def ack(self) -> None:
        """Delete the messages whose keys the last `drain` handed out (call it once they are
        registered). A delete that keeps failing is logged: the message comes back and its
        keys are registered again, which changes nothing."""
        with self._lock:
            handles, self._handed = [h.handle for h in self._handed], []
        self._delete(handles)

    def stop(self) -> None:
        """Stop polling (within about `wait_time` seconds) and release the messages received
        but not handed out; those handed out and not acknowledged come back after the
        visibility timeout."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.wait_time + 5)
            if thread.is_alive():
                log.warning("%s: the polling thread did not stop in time", self.queue_url)
        with self._lock:
            ready, self._ready = self._ready, []
            self._handed = []
        self._change_visibility([h.handle for h in ready], 0)

    # -- the polling thread ---------------------------------------------------------------

    def _run(self) -> None:
        errors = 0
        while not self._stopping.is_set():
            self._extend_due()
            wait = self._poll_wait()
            if wait is None:  # an extension is due within a second: no poll before it
                self._stopping.wait(self._next_extension() - time.monotonic())
                continue
            try:
                messages = self._receive(wait)
            except self._aws_errors as exc:
                backoff = _ERROR_BACKOFF[min(errors, len(_ERROR_BACKOFF) - 1)]
                errors += 1
                log.warning(
                    "%s: cannot receive messages (%s); again in %.0fs",
                    self.queue_url,
                    problem(exc)[1],
                    backoff,
                )
                self._stopping.wait(backoff)
                continue
            errors = 0
            self._take(messages)

    def _receive(self, wait: int) -> list[MessageTypeDef]:
        if self.visibility is None:
            response = self._client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=_BATCH, WaitTimeSeconds=wait
            )
        else:
            response = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=_BATCH,
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility,
            )
        return list(response.get("Messages", ()))

    def _take(self, messages: list[MessageTypeDef]) -> None:
        now = time.monotonic()
        held, nothing = [], []
        for message in messages:
            handle = message.get("ReceiptHandle", "")
            notification = parse_message(message.get("Body", ""), self.bucket, self.prefix)
            if notification.malformed is not None:
                log.warning(
                    "%s: message %s is not an S3 notification (%s), left for the redrive "
                    "policy: %r",
                    self.queue_url,
                    message.get("MessageId", "?"),
                    notification.malformed,
                    message.get("Body", "")[:_LOGGED_BODY],
                )
            elif notification.keys:
                held.append(_Held(handle, notification.keys, now))
            else:
                nothing.append(handle)  # test events, removals, other buckets or prefixes
        self._delete(nothing)
        if held:
            with self._lock:
                self._ready += held
                self._lock.notify_all()

    def _held(self) -> list[_Held]:
        with self._lock:
            return self._ready + self._handed

    def _next_extension(self) -> float:
        held = self._held()
        return min(h.extended for h in held) + self._timeout / 2 if held else float("inf")

    def _poll_wait(self) -> int | None:
        """The long poll to use: `wait_time`, shortened so that the next extension is not
        late; None when it is due within a second."""
        left = self._next_extension() - time.monotonic()
        if left >= self.wait_time:
            return self.wait_time
        return int(left) if left >= 1 else None

    def _extend_due(self) -> None:
        now = time.monotonic()
        due = [h for h in self._held() if now - h.extended >= self._timeout / 2]
        for held in due:
            held.extended = now
        failed = self._change_visibility([h.handle for h in due], self._timeout)
        if failed:  # gone or expired: nothing to hold any more
            with self._lock:
                self._ready = [h for h in self._ready if h.handle not in failed]
                self._handed = [h for h in self._handed if h.handle not in failed]

    # -- batch calls ----------------------------------------------------------------------

    def _change_visibility(self, handles: list[str], timeout: int) -> set[str]:
        """Set the visibility timeout of the messages; the handles that failed."""
        failed: set[str] = set()
        for start in range(0, len(handles), _BATCH):
            chunk = handles[start : start + _BATCH]
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": timeout}
                for i, h in enumerate(chunk)
            ]
            try:
                response = self._client.change_message_visibility_batch(
                    QueueUrl=self.queue_url, Entries=entries
                )
            except self._aws_errors as exc:
                log.warning("%s: cannot change visibility (%s)", self.queue_url, problem(exc)[1])
                continue  # the thread tries again at its next round
            for entry in response.get("Failed", ()):
                failed.add(chunk[int(entry["Id"])])
        return failed

    def _delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), _BATCH):
            chunk = handles[start : start + _BATCH]
            pending = dict(enumerate(chunk))
            problem_text = ""
            for attempt in range(_DELETE_ATTEMPTS):
                if attempt:
                    time.sleep(0.2 * 2**attempt)
                entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(i), "ReceiptHandle": h} for i, h in pending.items()
                ]
                try:
                    response = self._client.delete_message_batch(
                        QueueUrl=self.queue_url, Entries=entries
                    )
                except self._aws_errors as exc:
                    problem_text = problem(exc)[1]
                    continue
                retry = {}
                for entry in response.get("Failed", ()):
                    i = int(entry["Id"])
                    if not entry.get("SenderFault", False):  # the service's fault: retry
                        retry[i] = pending[i]
                    else:
                        log.warning(
                            "%s: cannot delete a message (%s)",
                            self.queue_url,
                            entry.get("Message") or entry.get("Code", "?"),
                        )
                pending = retry
                problem_text = "failed entries"
                if not pending:
                    break
            if pending:
                log.warning(
                    "%s: %d message(s) not deleted (%s): they come back and are registered again",
                    self.queue_url,
                    len(pending),
                    problem_text,
                )
