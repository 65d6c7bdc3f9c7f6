"""Showing Settings.warnings: one plain line each on stderr, at most once per process."""

from __future__ import annotations

import sys
from typing import TextIO

from ingestflow.config.settings import Settings

_shown: set[str] = set()


def fresh_warnings(settings: Settings) -> list[str]:
    """The warnings of `settings` this process has not reported yet (now marked reported)."""
    fresh = [w for w in dict.fromkeys(settings.warnings) if w not in _shown]
    _shown.update(fresh)
    return fresh


def report_warnings(settings: Settings, stream: TextIO | None = None) -> list[str]:
    """Write each warning of `settings` not yet written by this process as one
    `warning: ...` line (no markup: the text is printed literally); return those written."""
    out = sys.stderr if stream is None else stream
    fresh = fresh_warnings(settings)
    for warning in fresh:
        out.write(f"warning: {warning}\n")
    if fresh:
        out.flush()
    return fresh
