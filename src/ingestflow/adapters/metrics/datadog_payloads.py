"""Request bodies for Datadog's metrics intake, each within its size limit (pure).

Two bodies: `/api/v2/series` for counts (type 1, `interval` COUNT_INTERVAL) and gauges
(type 3), `{"series": [{"metric", "type", "points": [{"timestamp", "value"}], "tags", ...}]}`;
`/api/v1/distribution_points` for distributions, `{"series": [{"metric", "type":
"distribution", "points": [[timestamp, [value, ...]]], "tags"}]}` with every value of one
metric, tag set and second in one point (Datadog adds them, so one point per second is the same
as one per value, and much smaller).

Timestamps are whole seconds (floored). A count or gauge given twice for the same metric, tags
and second keeps the last value (what Datadog would keep anyway). A value that is not finite
is left out: JSON has no NaN and Datadog would refuse the payload (domain.metrics never
produces one).

Splitting: each body's uncompressed JSON is at most MAX_BODY bytes (Datadog takes 500 KB per
payload; keeping the uncompressed size within it keeps the compressed one within it too). A
series whose points do not fit is cut into several series fragments with the same metric and
tags; a distribution point with too many values is cut into several points of the same second
(additive, so the sum is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import orjson

from ingestflow.domain.metrics import COUNT, COUNT_INTERVAL, DISTRIBUTION, GAUGE, UNITS, Point

MAX_BODY = 512_000  # bytes of uncompressed JSON per request
_HEAD, _TAIL = b'{"series":[', b"]}"
_V2_TYPES = {COUNT: 1, GAUGE: 3}


def tag_list(point: Point, extra: Sequence[str]) -> list[str]:
    """The point's `key:value` tags followed by the extra tags, without repeats."""
    return list(dict.fromkeys([*point.tag_list(), *extra]))


def series_bodies(
    points: Iterable[Point], extra_tags: Sequence[str] = (), limit: int = MAX_BODY
) -> list[bytes]:
    """The `/api/v2/series` bodies for the count and gauge points (others are ignored)."""
    grouped: dict[tuple[str, str, tuple[str, ...]], dict[int, float]] = {}
    for p in points:
        if p.kind in _V2_TYPES and math.isfinite(p.value):
            key = (p.metric, p.kind, tuple(tag_list(p, extra_tags)))
            grouped.setdefault(key, {})[int(p.timestamp)] = p.value  # the last one wins
    fragments: list[bytes] = []
    for (metric, kind, tags), values in grouped.items():
        header: dict[str, object] = {"metric": metric, "type": _V2_TYPES[kind]}
        if kind == COUNT:
            header["interval"] = COUNT_INTERVAL
        if metric in UNITS:
            header["unit"] = UNITS[metric]
        header["tags"] = list(tags)
        encoded = [
            orjson.dumps({"timestamp": ts, "value": value}) for ts, value in sorted(values.items())
        ]
        fragments += _series_fragments(header, encoded, limit)
    return pack(fragments, limit)


def distribution_bodies(
    points: Iterable[Point], extra_tags: Sequence[str] = (), limit: int = MAX_BODY
) -> list[bytes]:
    """The `/api/v1/distribution_points` bodies for the distribution points."""
    grouped: dict[tuple[str, tuple[str, ...]], dict[int, list[float]]] = {}
    for p in points:
        if p.kind == DISTRIBUTION and math.isfinite(p.value):
            key = (p.metric, tuple(tag_list(p, extra_tags)))
            grouped.setdefault(key, {}).setdefault(int(p.timestamp), []).append(p.value)
    fragments: list[bytes] = []
    for (metric, tags), seconds in grouped.items():
        header: dict[str, object] = {"metric": metric, "type": DISTRIBUTION, "tags": list(tags)}
        room = limit - len(_HEAD) - len(_TAIL) - len(_open(header)) - 2
        encoded: list[bytes] = []
        for ts, values in sorted(seconds.items()):
            encoded += _value_points(ts, values, room)
        fragments += _series_fragments(header, encoded, limit)
    return pack(fragments, limit)


def _open(header: dict[str, object]) -> bytes:
    """A series object without its closing `]}`: `{..., "points":[`."""
    return orjson.dumps(header)[:-1] + b',"points":['


def _value_points(ts: int, values: list[float], room: int) -> list[bytes]:
    """`[ts,[values]]` points of at most `room` bytes each (halving the values as needed)."""
    encoded = orjson.dumps([ts, values])
    if len(encoded) <= room or len(values) == 1:
        return [encoded]
    half = len(values) // 2
    return _value_points(ts, values[:half], room) + _value_points(ts, values[half:], room)


def _series_fragments(header: dict[str, object], points: list[bytes], limit: int) -> list[bytes]:
    """The series as one or more JSON objects holding consecutive runs of `points`, each
    small enough to fit alone in a body of `limit` bytes."""
    opening = _open(header)
    room = limit - len(_HEAD) - len(_TAIL) - len(opening) - len(_TAIL)
    if room <= 0 or any(len(p) > room for p in points):
        raise ValueError("a metric point does not fit in a Datadog payload")
    fragments: list[bytes] = []
    run: list[bytes] = []
    size = 0
    for p in points:
        extra = len(p) + (1 if run else 0)
        if run and size + extra > room:
            fragments.append(opening + b",".join(run) + _TAIL)
            run, size, extra = [], 0, len(p)
        run.append(p)
        size += extra
    if run:
        fragments.append(opening + b",".join(run) + _TAIL)
    return fragments


def pack(fragments: Iterable[bytes], limit: int = MAX_BODY) -> list[bytes]:
    """`{"series":[...]}` bodies of at most `limit` bytes, filled with `fragments` in order
    (each fragment must fit alone)."""
    return list(_pack(fragments, limit))


def _pack(fragments: Iterable[bytes], limit: int) -> Iterator[bytes]:
    room = limit - len(_HEAD) - len(_TAIL)
    run: list[bytes] = []
    size = 0
    for fragment in fragments:
        extra = len(fragment) + (1 if run else 0)
        if run and size + extra > room:
            yield _HEAD + b",".join(run) + _TAIL
            run, size, extra = [], 0, len(fragment)
        run.append(fragment)
        size += extra
    if run:
        yield _HEAD + b",".join(run) + _TAIL
