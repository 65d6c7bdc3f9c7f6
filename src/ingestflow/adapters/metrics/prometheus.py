"""Prometheus exposition: counters and histograms kept in the ledger, gauges at scrape time.

A Prometheus counter must never go down, also across restarts, so its value cannot live in
process memory. `PrometheusSink` is a FoldingSink: the forwarder hands it each delivery's points
and stores what `fold` returns (series -> delta) with the sink's checkpoint in one ledger
transaction, so every ended file is added exactly once. `LedgerCollector` reads those running
totals back at scrape time (`StatusStore.metric_totals`) and computes the backlog gauges from
the ledger then; nothing is cached, so every process serving `/metrics` shows the same values.

Series (the ledger's keys) are canonical text: `name{k="v",...}` with labels sorted by name
and values escaped as in the text format; labels are the points' tags. Names:

- counters `ingestion_files_processed_total`, `ingestion_bytes_processed_total` (bytes = the
  input files' sizes), `ingestion_files_failed_total` (label `error_kind`);
- histograms `ingestion_file_processing_time_seconds`, `ingestion_file_queue_wait_time_seconds`,
  `ingestion_file_end_to_end_latency_seconds` (SECONDS_BUCKETS) and `ingestion_file_size_bytes`
  (BYTES_BUCKETS: the size distribution the bytes counter cannot give), stored as cumulative
  `_bucket{le=...}`, `_sum` and `_count` series. Buckets are fixed: changing them needs new
  series names, or old and new `le` values would mix;
- gauges `ingestion_backlog_files`, `ingestion_backlog_oldest_age_seconds` per workflow.

Gauge points handed to `fold` are ignored: a stored gauge would be stale at the next scrape.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ingestflow.domain import metrics as m
from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import MetricsContext, Point, Tags
from ingestflow.domain.workflow import Workflow
from ingestflow.ports import StatusStore

# File ingestion spans a fraction of a second to a day: finer at the short end.
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                   1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)  # fmt: skip
BYTES_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10)  # 1 kB .. 10 GB, one per decade

COUNTERS = {
    m.FILES_PROCESSED: ("ingestion_files_processed_total", "Files that reached DONE."),
    m.BYTES_PROCESSED: ("ingestion_bytes_processed_total", "Input bytes of DONE files."),
    m.FILES_FAILED: ("ingestion_files_failed_total", "Files that reached FAILED, by error_kind."),
}  # fmt: skip
HISTOGRAMS = {
    m.PROCESSING_TIME: ("ingestion_file_processing_time_seconds", SECONDS_BUCKETS,
                        "Seconds from a file's start to its end (DONE files)."),
    m.QUEUE_WAIT_TIME: ("ingestion_file_queue_wait_time_seconds", SECONDS_BUCKETS,
                        "Seconds from a file's upload to its start (DONE files)."),
    m.END_TO_END_LATENCY: ("ingestion_file_end_to_end_latency_seconds", SECONDS_BUCKETS,
                           "Seconds from a file's upload to its end (DONE files)."),
    m.FILE_SIZE: ("ingestion_file_size_bytes", BYTES_BUCKETS, "Input size of DONE files."),
}  # fmt: skip
BACKLOG_FILES = "ingestion_backlog_files"
BACKLOG_OLDEST_AGE = "ingestion_backlog_oldest_age_seconds"

Labels = tuple[tuple[str, str], ...]
_float_text: Callable[[float], str] = floatToGoString  # `le` as the client library writes it
_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_]")
_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$", re.DOTALL)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)', re.DOTALL)
_UNESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@functools.cache
def _les(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The `le` label values of `bounds`, as the client library writes them, and +Inf."""
    return (*(_float_text(b) for b in bounds), "+Inf")


def _label_name(key: str) -> str:
    name = _UNSAFE_NAME.sub("_", key) or "_"
    return f"_{name}" if name[0].isdigit() else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_key(name: str, labels: Iterable[tuple[str, str]]) -> str:
    """The canonical series text: labels sorted by name, values escaped as in the text format
    (backslash, double quote, line feed)."""
    pairs = sorted((_label_name(k), v) for k, v in labels)
    if not pairs:
        return name
    return name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def parse_series(series: str) -> tuple[str, Labels] | None:
    """The (name, sorted labels) of a canonical series text; None when it is not one."""
    match = _SERIES.match(series)
    if match is None:
        return None
    name, body = match.group(1), match.group(2)
    labels: list[tuple[str, str]] = []
    position = 0
    while body and position < len(body):
        label = _LABEL.match(body, position)
        if label is None:
            return None
        value = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPES[e.group()], label.group(2))
        labels.append((label.group(1), value))
        position = label.end()
    return name, tuple(sorted(labels))


class PrometheusSink:
    """The FoldingSink behind `/metrics`. Stateless: the forwarder stores `fold`'s deltas
    in the ledger; `send` is never called (it raises, REJECTED, if it ever is)."""

    counts = "increments"
    max_age: float | None = None

    def __init__(self, name: str = "prometheus") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"PrometheusSink(name={self.name!r})"

    def fold(self, points: Sequence[Point]) -> dict[str, float]:
        """Series -> delta for `points`: each count point adds its value to its counter; each
        distribution value adds 1 to every bucket whose `le` it does not exceed (and +Inf),
        to `_count`, and its value to `_sum`. Every bucket of a label set is written (zero
        deltas too), so a histogram never shows a partial set of buckets. Gauges, unknown
        metrics, values that are not finite and negative counts are left out (a counter
        never goes down)."""
        counters: dict[tuple[str, Tags], float] = {}
        values: dict[tuple[str, Tags], list[float]] = {}
        for point in points:
            value = float(point.value)
            if not math.isfinite(value):
                continue
            if point.kind == m.COUNT and point.metric in COUNTERS and value >= 0:
                key = (COUNTERS[point.metric][0], point.tags)
                counters[key] = counters.get(key, 0.0) + value
            elif point.kind == m.DISTRIBUTION and point.metric in HISTOGRAMS:
                values.setdefault((point.metric, point.tags), []).append(value)
        deltas = {series_key(name, tags): value for (name, tags), value in counters.items()}
        for (metric, tags), found in values.items():
            name, bounds, _ = HISTOGRAMS[metric]
            per_bucket = [0] * (len(bounds) + 1)
            for value in found:
                per_bucket[bisect.bisect_left(bounds, value)] += 1
            for le, cumulative in zip(_les(bounds), itertools.accumulate(per_bucket), strict=True):
                deltas[series_key(f"{name}_bucket", (*tags, ("le", le)))] = float(cumulative)
            deltas[series_key(f"{name}_count", tags)] = float(len(found))
            deltas[series_key(f"{name}_sum", tags)] = math.fsum(found)
        return deltas

    def send(self, points: Sequence[Point], timeout: float | None = None) -> None:
        raise SinkError(
            f"{self.name}: points are folded into the ledger, not sent", SinkError.REJECTED
        )

    def close(self) -> None:
        """Nothing to flush: the values live in the ledger."""


Series = dict[str, list[tuple[Labels, float]]]
"""Stored totals by series name: (labels, value) pairs."""


def _bound(le: str) -> float:
    try:
        return float(le)
    except ValueError:
        return math.inf


def _add_histograms(family: Metric, series: Series) -> None:
    """Each label set's stored buckets (sorted by bound, +Inf last), count and sum."""
    name = family.name
    buckets: dict[Labels, list[tuple[str, float]]] = {}
    for labels, value in series.get(f"{name}_bucket", []):
        le = dict(labels).get("le")
        if le is not None:
            rest = tuple(kv for kv in labels if kv[0] != "le")
            buckets.setdefault(rest, []).append((le, value))
    counts = dict(series.get(f"{name}_count", []))
    sums = dict(series.get(f"{name}_sum", []))
    for key in sorted(buckets.keys() | counts.keys()):
        base = dict(key)
        found = sorted(buckets.get(key, []), key=lambda b: _bound(b[0]))
        if not found or found[-1][0] != "+Inf":
            found.append(("+Inf", counts.get(key, 0.0)))
        for le, value in found:
            family.add_sample(f"{name}_bucket", {**base, "le": le}, value)
        family.add_sample(f"{name}_count", base, found[-1][1])
        family.add_sample(f"{name}_sum", base, sums.get(key, 0.0))


class LedgerCollector(Collector):
    """Yields, at each scrape, the ledger's Prometheus totals (`store.metric_totals`) and
    each workflow's backlog gauges (`store.backlog`; labels `context.workflow_tags`).
    `describe` needs no ledger read, so registering the collector touches nothing; a ledger
    that fails at scrape time raises from `collect` (the server answers 503)."""

    def __init__(
        self,
        store: StatusStore,
        context: MetricsContext,
        workflows: Sequence[Workflow],
        bucket: str,
        sink_name: str = "prometheus",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.context, self.workflows = store, context, list(workflows)
        self.bucket, self.sink_name, self.clock = bucket, sink_name, clock

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        backlogs = [(w.name, self.store.backlog(w.name, now)) for w in self.workflows]
        series: Series = {}
        for text, value in self.store.metric_totals(self.sink_name).items():
            parsed = parse_series(text)
            if parsed is not None:  # anything else is not ours: left out
                series.setdefault(parsed[0], []).append((parsed[1], value))
        families = self._families()
        for family in families:
            if family.type == "counter":
                name = f"{family.name}_total"
                for labels, value in sorted(series.get(name, [])):
                    family.add_sample(name, dict(labels), value)
            elif family.type == "histogram":
                _add_histograms(family, series)
        backlog_files, oldest_age = families[-2:]
        for workflow, backlog in backlogs:
            tags = dict(self.context.workflow_tags(workflow, self.bucket))
            backlog_files.add_sample(BACKLOG_FILES, tags, float(backlog.count))
            oldest_age.add_sample(BACKLOG_OLDEST_AGE, tags, backlog.oldest_age(now))
        return families

    @staticmethod
    def _families() -> list[Metric]:
        """Every family, without samples (the backlog gauges last)."""
        families: list[Metric] = [CounterMetricFamily(n, doc) for n, doc in COUNTERS.values()]
        families += [
            HistogramMetricFamily(n, doc, unit=n.rpartition("_")[2])
            for n, _, doc in HISTOGRAMS.values()
        ]
        families.append(GaugeMetricFamily(BACKLOG_FILES, "TODO files waiting, per workflow."))
        families.append(
            GaugeMetricFamily(
                BACKLOG_OLDEST_AGE,
                "Seconds the oldest TODO file has waited since its upload, per workflow.",
                unit="seconds",
            )
        )
        return families


def ledger_registry(collector: LedgerCollector) -> CollectorRegistry:
    """A private registry holding only `collector`: `/metrics` shows the catalogue, not this
    process's CPU or memory (the process collectors describe whichever process serves, which
    is not always the one ingesting; node_exporter covers hosts)."""
    registry = CollectorRegistry()
    registry.register(collector)
    return registry
