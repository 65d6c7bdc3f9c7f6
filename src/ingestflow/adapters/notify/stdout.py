"""StdoutNotifier: the digest's plain-text report on standard output, for `--once` cron jobs
(cron mails what a job prints) and tests. The report escapes control characters in every value,
so a key or an error cannot drive the terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from ingestflow.domain.alerts import Digest
from ingestflow.domain.errors import NotifyError

from .render import text_report


class StdoutNotifier:
    """Writes `text_report(digest)` to `stream` (standard output when None, looked up at each
    send so a redirected sys.stdout is honoured)."""

    def __init__(self, name: str = "stdout", stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    def __repr__(self) -> str:
        return f"StdoutNotifier(name={self.name!r})"

    def send(self, digest: Digest) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(text_report(digest))
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe or stream
            raise NotifyError(f"stdout {self.name}: cannot write: {exc}") from None
