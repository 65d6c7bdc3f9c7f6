"""The forwarder beside the pipeline: its own thread, so a slow or unreachable sink never holds
up discovery, batches or the reaper. `stop()` has the thread deliver what is still pending
before it ends, within `flush_timeout` (what `ingestflow run --once` promises before it exits);
only this thread ever drives the forwarder, so two deliveries never race."""

from __future__ import annotations

import logging
import threading
import time

from ingestflow.services.forwarding import Forwarder

log = logging.getLogger(__name__)
# Beyond flush_timeout, how long stop() waits for a request already on the wire.
_GRACE = 2.0


class ForwarderThread(threading.Thread):
    def __init__(self, forwarder: Forwarder, interval: float = 1.0) -> None:
        super().__init__(name="metrics-forwarder", daemon=True)
        self.forwarder, self.interval = forwarder, interval
        self._stopping = threading.Event()
        self._flush_until: float | None = None  # monotonic deadline of the final flush
        self.delivered = False

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                caught_up = self.forwarder.forward()
            except Exception:  # the ledger busy or gone: the next round tries again
                log.warning("metrics forwarding failed; retrying", exc_info=True)
                caught_up = True
            if caught_up:
                self._stopping.wait(self.interval)
        if self._flush_until is None:
            return
        try:
            self.delivered = self.forwarder.flush(max(0.0, self._flush_until - time.monotonic()))
        except Exception:
            log.warning("metrics flush failed", exc_info=True)

    def stop(self, flush_timeout: float) -> bool:
        """Deliver what is pending within `flush_timeout` seconds, then stop. True when
        everything was delivered; the forwarder is closed unless its thread is stuck."""
        deadline = time.monotonic() + flush_timeout
        self._flush_until = deadline
        self.forwarder.limit(deadline)  # a round in progress stops at its next delivery
        self._stopping.set()
        self.join(timeout=flush_timeout + _GRACE)
        if self.is_alive():
            log.warning("metrics: a delivery is still in progress; leaving it to the next run")
            return False
        try:
            self._report_pending()
        finally:
            self.forwarder.close()
        return self.delivered

    def _report_pending(self) -> None:
        if self.delivered:
            return
        try:
            reports = self.forwarder.reports()
        except Exception:
            log.warning("metrics: cannot read the sinks' checkpoints", exc_info=True)
            return
        for report in reports:
            if report.pending:
                log.warning(
                    "metrics sink %s: %d transitions not delivered yet (%s); the next run or"
                    " `ingestflow metrics push` delivers them",
                    report.name,
                    report.pending,
                    report.last_error or "still in progress",
                )
