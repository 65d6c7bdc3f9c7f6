"""The forwarder beside the pipeline: its own thread, so a slow or unreachable sink never holds
up discovery, batches or the reaper. `stop()` delivers what is still pending first, waiting at
most `flush_timeout` (what `ingestflow run --once` promises before it exits)."""

from __future__ import annotations

import logging
import threading

from ingestflow.services.forwarding import Forwarder

log = logging.getLogger(__name__)


class ForwarderThread(threading.Thread):
    def __init__(self, forwarder: Forwarder, interval: float = 1.0) -> None:
        super().__init__(name="metrics-forwarder", daemon=True)
        self.forwarder, self.interval = forwarder, interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                caught_up = self.forwarder.forward()
            except Exception:  # the ledger busy or gone: the next round tries again
                log.warning("metrics forwarding failed; retrying", exc_info=True)
                caught_up = True
            if caught_up:
                self._stopping.wait(self.interval)

    def stop(self, flush_timeout: float) -> bool:
        """Stop the loop, then deliver what is pending within `flush_timeout` seconds. True
        when everything was delivered; the forwarder is closed either way."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=flush_timeout + 30)
        try:
            delivered = self.forwarder.flush(flush_timeout)
        except Exception:
            log.warning("metrics flush failed", exc_info=True)
            delivered = False
        if not delivered:
            for report in self.forwarder.reports():
                if report.pending:
                    log.warning(
                        "metrics sink %s: %d transitions not delivered yet (%s); the next run"
                        " or `ingestflow metrics push` delivers them",
                        report.name,
                        report.pending,
                        report.last_error or "still in progress",
                    )
        self.forwarder.close()
        return delivered
