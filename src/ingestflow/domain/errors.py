"""The exception tree of ingestflow.

IngestflowError
├── ConfigError            configuration is invalid (names the key); CLI exit code 2
├── InvalidKeyError        a landing key breaks the key rules
├── InvalidTransitionError a status change the state machine does not allow
├── LedgerError            the status store failed or was asked something impossible
├── MissingExtraError      an optional back-end is not installed
├── SinkError              a metrics sink did not take points (kind: retry, rejected, auth)
├── NotifyError            a notifier did not deliver an alert (retried on later ticks)
└── FileProcessingError    one file could not be processed
    ├── TransientError     worth retrying (I/O, lost connection)
    └── TerminalError      retrying cannot help (parse, schema, corrupt input)
"""

from __future__ import annotations


class IngestflowError(Exception):
    """Base of every error ingestflow raises on purpose."""


class ConfigError(IngestflowError):
    """Configuration is invalid. The message names the key and the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config error at '{key}': {problem}")
        self.key = key
        self.problem = problem


class InvalidKeyError(IngestflowError):
    """A landing key is absolute, escapes the root, or holds control characters."""


class InvalidTransitionError(IngestflowError):
    """A status change the state machine does not allow."""


class LedgerError(IngestflowError):
    """The status store failed."""


class ObjectStoreError(IngestflowError):
    """The object store could not be listed or asked about an object. One line, naming the
    store's URL and the problem: "s3://landing/in/: access denied (AccessDenied)"."""


class MissingExtraError(IngestflowError):
    """An optional back-end was configured but its extra is not installed."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs an optional extra: pip install 'ingestflow[{extra}]'")


class SinkError(IngestflowError):
    """A metrics sink did not take a delivery. `kind`: RETRY (unreachable, 5xx, 429, a
    timeout: try again later, with backoff), REJECTED (the sink refused these points, e.g. a
    4xx on the payload: retrying cannot help, they are dropped and counted) or AUTH (401/403:
    the credentials are wrong; the sink stops until restarted, its backlog kept)."""

    RETRY, REJECTED, AUTH = "retry", "rejected", "auth"

    def __init__(self, message: str, kind: str = RETRY) -> None:
        super().__init__(message)
        self.kind = kind


class NotifyError(IngestflowError):
    """A notifier did not deliver a digest. `retry_after`: seconds the receiver asked to wait
    (a 429's Retry-After), else None. The message never holds a secret."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FileProcessingError(IngestflowError):
    """One file could not be processed; `retryable` decides retry or fail."""

    retryable = False


class TransientError(FileProcessingError):
    """Worth retrying: I/O errors, a lost connection, a busy resource."""

    retryable = True


class TerminalError(FileProcessingError):
    """Retrying cannot help: unparseable values, missing columns, corrupt input."""
