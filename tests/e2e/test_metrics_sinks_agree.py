"""One run with every sink on: Datadog's API (capture server), DogStatsD (a real UDP socket),
Prometheus (`ingestflow serve`, parsed) and the ledger (`metrics --json`) give the same numbers."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from datadog_capture import DatadogCapture
from e2e_support import (
    CLI,
    Project,
    clean_env,
    drop_ohlcv_files,
    workflow,
    write_config,
    write_file,
)
from prometheus_client.parser import text_string_to_metric_families

KEY = "agree-key"
KEYS = [f"ohlcv/{s}/2024-01-0{d}.csv" for s in ("EURUSD", "GBPUSD") for d in (1, 2, 3)]
BAD = "ohlcv/EURUSD/2024-01-09.csv"


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    try:
        yield sock
    finally:
        sock.close()


def received(sock: socket.socket) -> dict[str, float]:
    """DogStatsD lines summed per metric (counts) or counted (distributions: values seen)."""
    totals: dict[str, float] = defaultdict(float)
    while True:
        try:
            packet = sock.recv(65535).decode()
        except TimeoutError:
            return dict(totals)
        for line in packet.splitlines():
            name, rest = line.split(":", 1)
            value, kind = rest.split("|")[:2]
            totals[f"{name}|{kind}"] += float(value) if kind == "c" else 1.0


def scrape(p: Project) -> dict[str, float]:
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--config", str(p.config)],
        cwd=p.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("serving on http://127.0.0.1:"), first
        url = first.removeprefix("serving on ")
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return dict(totals)


def test_datadog_dogstatsd_prometheus_and_the_ledger_agree(
    tmp_path: Path, udp: socket.socket
) -> None:
    with DatadogCapture(api_key=KEY) as datadog:
        (tmp_path / "key").write_text(KEY)
        port = udp.getsockname()[1]
        extra = f"""
[metrics]
env = "agree"
[metrics.datadog]
url = "{datadog.url}"
api_key_file = "{tmp_path / "key"}"
[metrics.dogstatsd]
host = "127.0.0.1"
port = {port}
[metrics.prometheus]
"""
        p = write_config(tmp_path / "p", [workflow("ohlcv", "ohlcv/", batch_size=7)], extra=extra)
        sizes = drop_ohlcv_files(p.landing, KEYS, seed=11)
        write_file(p.landing / BAD, b"Date,Open,High,Low,Close,Volume\nyesterday,1,2,3,4,5\n")

        p.run_once(expect=1)

        ledger = p.json("metrics", "--since", "1h")["totals"]
        dd = {
            "processed": datadog.count_total("ingestion.files.processed"),
            "bytes": datadog.count_total("ingestion.bytes.processed"),
            "failed": datadog.count_total("ingestion.files.failed", error_kind="bad_value"),
            "sizes": len(datadog.distribution_values("ingestion.file.size")),
        }
    statsd = received(udp)
    prom = scrape(p)

    done, nbytes = len(KEYS), sum(len(v) for v in sizes.values())
    assert (ledger["files_done"], ledger["files_failed"], ledger["bytes"]) == (done, 1, nbytes)
    assert dd == {"processed": done, "bytes": nbytes, "failed": 1, "sizes": done}
    assert statsd["ingestion.files.processed|c"] == done
    assert statsd["ingestion.bytes.processed|c"] == nbytes
    assert statsd["ingestion.files.failed|c"] == 1
    assert statsd["ingestion.file.end_to_end_latency|d"] == done
    assert prom["ingestion_files_processed_total"] == done
    assert prom["ingestion_bytes_processed_total"] == nbytes
    assert prom["ingestion_files_failed_total"] == 1
    assert prom["ingestion_file_end_to_end_latency_seconds_count"] == done
    assert prom["ingestion_backlog_files"] == 0
