"""Workflow settings and routing of landing keys to workflows."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ingestflow.domain import keys

DEFAULT_INCLUDE = ("*.csv", "*.csv.gz")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)

# Upper bounds: beyond them a value is a typo, and time arithmetic (datetime, SQLite integers)
# would overflow far from the configuration that caused it.
MAX_DURATION = 365 * 86400.0
MAX_SIZE = 1024**5  # 1 PiB


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration(value: str | int | float) -> float:
    """'30s', '10m', '1.5h', '250ms', '2d' or a number of seconds -> seconds, at most
    MAX_DURATION (365 days)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond the float range
            seconds = math.inf
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. '30s', '10m', '2h')")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"duration must be finite and not negative: {_shown(value)}")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration must be at most 365d, got {_shown(value)}")
    return seconds


def parse_size(value: str | int | float) -> int:
    """'512MB', '1GiB', '10k' or a number of bytes -> bytes (powers of 1024), at most
    MAX_SIZE (1 PiB)."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"size must be a whole number of bytes: {value!r}")
        value = int(value)
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"not a size: {value!r} (use e.g. '512MB', '2GB')")
        unit = (match.group(2) or "b").lower()[0]
        scaled = float(match.group(1)) * 1024 ** "bkmgt".index(unit)
        size = int(scaled) if math.isfinite(scaled) and scaled <= MAX_SIZE else MAX_SIZE + 1
    if size <= 0:
        raise ValueError(f"size must be positive: {value!r}")
    if size > MAX_SIZE:
        raise ValueError(f"size must be at most 1 PiB, got {_shown(value)}")
    return size


@dataclass(frozen=True)
class Workflow:
    """Settings of one workflow (a row of `workflow_metadata`). Durations in seconds."""

    name: str
    prefix: str
    transform: str = "ohlcv"
    batch_size: int = 10
    max_wait: float = 60.0
    max_batch_files: int = 1000
    max_batch_bytes: int = 2 * 1024**3
    max_attempts: int = 3
    lease: float = 300.0
    retry_backoff: float = 5.0
    stale_after: float = 5 * 3600.0
    include: tuple[str, ...] = DEFAULT_INCLUDE
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Completeness marker: a folder's files wait until a file of this name lands in the same
    # folder; `max_wait` still flushes them unless `marker_required`.
    ready_marker: str | None = None
    marker_required: bool = False
    # The `missing` alert: at each `expect_cron` deadline (wall clock in `timezone`, IANA), at
    # least `expect_min_files` files must have arrived in the `expect_window` before it.
    expect_cron: str | None = None
    expect_window: float = 24 * 3600.0
    expect_min_files: int = 1
    timezone: str = "UTC"

    def takes(self, key: str) -> bool:
        return key.startswith(self.prefix) and keys.matches_any(key, self.include)


def route(key: str, workflows: Sequence[Workflow]) -> tuple[Workflow | None, str]:
    """The workflow for `key` (longest matching prefix wins) or None with the reason."""
    candidates = sorted(
        (w for w in workflows if key.startswith(w.prefix)),
        key=lambda w: len(w.prefix),
        reverse=True,
    )
    if not candidates:
        return None, "no workflow prefix matches"
    for workflow in candidates:
        if keys.matches_any(key, workflow.include):
            return workflow, ""
    names = ", ".join(w.name for w in candidates)
    return None, f"matches no include pattern of workflow {names}"
