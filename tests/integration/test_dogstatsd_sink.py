"""DogStatsDSink against a real UDP socket on 127.0.0.1 standing in for the Datadog Agent:
datagrams are parsed back and compared with the points sent."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from ingestflow.adapters.metrics.dogstatsd import MAX_PACKET, DogStatsDSink, format_value
from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import (
    BACKLOG_FILES,
    COUNT,
    DISTRIBUTION,
    END_TO_END_LATENCY,
    FILE_SIZE,
    FILES_PROCESSED,
    GAUGE,
    Point,
    Tags,
)
from ingestflow.ports import MetricsSink

TAGS: Tags = (
    ("bucket", "landing"),
    ("env", "prod"),
    ("file_type", "csv"),
    ("folder", "ohlcv/2024"),
    ("prefix", "ohlcv/"),
    ("workflow", "ohlcv"),
)
TYPES = {"d": DISTRIBUTION, "c": COUNT, "g": GAUGE}
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux's value; not in Python 3.11
BURST_ROOM = 2 << 20  # receive buffer that holds 2,000 points sent at once (measured: ~1 MB)


class Agent:
    """A UDP socket on 127.0.0.1 port 0 that a thread drains into `packets`."""

    def __init__(self, family: int = socket.AF_INET, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        # Room for a few thousand points sent in one burst: the sender outruns this thread
        # (the GIL), so the kernel must queue them. SO_RCVBUF is capped by net.core.rmem_max;
        # SO_RCVBUFFORCE (Linux, root) lifts the cap.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        if self.room < BURST_ROOM and sys.platform == "linux":
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    @property
    def room(self) -> int:
        """The receive buffer in bytes (as the kernel reports it: twice the request)."""
        size: int = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        return size

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self.packets.append(self.sock.recv(65535))
            except TimeoutError:
                continue

    def lines(self, expected: int, timeout: float = 5.0) -> list[str]:
        """The lines received, once `expected` of them arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self._lines()) < expected:
            time.sleep(0.01)
        time.sleep(0.05)  # anything beyond the expected lines shows up too
        return self._lines()

    def _lines(self) -> list[str]:
        return [line for p in list(self.packets) for line in p.decode().split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def agent() -> Iterator[Agent]:
    a = Agent()
    yield a
    a.close()


@pytest.fixture
def sink(agent: Agent) -> Iterator[DogStatsDSink]:
    s = DogStatsDSink("127.0.0.1", agent.port)
    yield s
    s.close()


def parse(line: str) -> tuple[str, str, float, Tags]:
    """A DogStatsD line back into (metric, kind, value, tags); fails on any other field."""
    name_value, kind, *rest = line.split("|")
    name, value = name_value.split(":")
    tags: Tags = ()
    if rest:
        (section,) = rest
        assert section.startswith("#")
        tags = tuple(tuple(t.split(":", 1)) for t in section[1:].split(","))  # type: ignore[misc]
    return name, TYPES[kind], float(value), tags


def as_sent(p: Point) -> tuple[str, str, float, Tags]:
    return p.metric, p.kind, p.value, p.tags


def test_the_sink_is_a_metrics_sink_that_sends_increments_of_any_age() -> None:
    s: MetricsSink = DogStatsDSink("127.0.0.1", 8125)
    assert (s.name, s.counts, s.max_age) == ("dogstatsd", "increments", None)
    assert DogStatsDSink("127.0.0.1", 8125, name="statsd-b").name == "statsd-b"


def test_each_point_arrives_as_one_line_with_its_type_value_and_tags(
    agent: Agent, sink: DogStatsDSink
) -> None:
    points = [
        Point(END_TO_END_LATENCY, DISTRIBUTION, 812.4, 1_700_000_000.5, TAGS),
        Point(FILE_SIZE, DISTRIBUTION, 2048.0, 1_700_000_000.5, TAGS),
        Point(FILES_PROCESSED, COUNT, 1.0, 1_700_000_000.5, TAGS),
        Point(BACKLOG_FILES, GAUGE, 0.0, 1_700_000_060.0, TAGS[:4]),
    ]
    sink.send(points)
    lines = agent.lines(len(points))
    assert lines[0] == (
        "ingestion.file.end_to_end_latency:812.4|d|#bucket:landing,env:prod,file_type:csv,"
        "folder:ohlcv/2024,prefix:ohlcv/,workflow:ohlcv"
    )
    assert [parse(line) for line in lines] == [as_sent(p) for p in points]
    assert not any("|T" in line or "|@" in line for line in lines)  # no timestamp, no rate


def test_a_point_without_tags_has_no_tag_section(agent: Agent, sink: DogStatsDSink) -> None:
    sink.send([Point(FILES_PROCESSED, COUNT, 3.0, 0.0, ())])
    assert agent.lines(1) == ["ingestion.files.processed:3|c"]


def test_values_are_written_compactly_with_full_float_precision() -> None:
    assert format_value(1.0) == "1"
    assert format_value(0.0) == "0"
    assert format_value(-3.0) == "-3"
    assert format_value(2_147_483_648.0) == "2147483648"
    assert format_value(0.1) == "0.1"
    assert format_value(812.4) == "812.4"
    assert float(format_value(1 / 3)) == 1 / 3
    assert float(format_value(1e-7)) == 1e-7
    assert float(format_value(1e300)) == 1e300


def test_two_thousand_points_arrive_in_full_packets_of_at_most_1432_bytes(
    agent: Agent, sink: DogStatsDSink
) -> None:
    if agent.room < BURST_ROOM:
        pytest.skip(f"UDP receive buffer {agent.room} B is too small: raise net.core.rmem_max")
    points = [Point(FILE_SIZE, DISTRIBUTION, float(i), 1_700_000_000.0, TAGS) for i in range(2000)]
    sink.send(points)
    lines = agent.lines(len(points))
    assert sorted(parse(line) for line in lines) == sorted(as_sent(p) for p in points)
    assert len(agent.packets) > 1
    assert all(len(p) <= MAX_PACKET for p in agent.packets)
    # Packed greedily: the next packet's first line would not have fitted in the previous one.
    for packet, following in zip(agent.packets, agent.packets[1:], strict=False):
        assert len(packet) + 1 + len(following.split(b"\n")[0]) > MAX_PACKET


def test_a_line_longer_than_a_packet_is_sent_alone_and_whole(
    agent: Agent, sink: DogStatsDSink
) -> None:
    long_tags: Tags = tuple((f"k{i}", "v" * 300) for i in range(6))
    points = [
        Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS),
        Point(FILE_SIZE, DISTRIBUTION, 5.0, 0.0, long_tags),
        Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS),
    ]
    sink.send(points)
    lines = agent.lines(3)
    assert [parse(line) for line in lines] == [as_sent(p) for p in points]
    alone = [p for p in agent.packets if len(p) > MAX_PACKET]
    assert len(alone) == 1 and b"\n" not in alone[0]


def test_a_line_the_agent_could_not_read_is_refused_before_anything_is_sent(
    agent: Agent, sink: DogStatsDSink
) -> None:
    huge: Tags = tuple((f"k{i}", "v" * 1000) for i in range(9))
    with pytest.raises(SinkError) as caught:
        sink.send([Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS), Point("x", GAUGE, 1, 0, huge)])
    assert caught.value.kind == SinkError.REJECTED
    assert agent.lines(1, timeout=0.3) == []


def test_separators_in_names_and_tags_cannot_break_a_line(
    agent: Agent, sink: DogStatsDSink
) -> None:
    tags: Tags = (("env", "a,b|c\nd#e"), ("workflow", "ok"))
    sink.send([Point("bad:name|x\ny", GAUGE, 1.0, 0.0, tags)])
    assert agent.lines(1) == ["bad_name_x_y:1|g|#env:a_b_c_d_e,workflow:ok"]


def test_points_without_a_finite_value_are_skipped(agent: Agent, sink: DogStatsDSink) -> None:
    sink.send([Point(BACKLOG_FILES, GAUGE, float("nan"), 0.0, TAGS), Point("ok", GAUGE, 2, 0, ())])
    assert agent.lines(1) == ["ok:2|g"]


def test_nothing_to_send_sends_nothing(agent: Agent, sink: DogStatsDSink) -> None:
    sink.send([])
    assert agent.lines(1, timeout=0.2) == []


def test_a_closed_sink_opens_a_new_socket_on_its_next_send(
    agent: Agent, sink: DogStatsDSink
) -> None:
    sink.send([Point("a", COUNT, 1.0, 0.0, ())])
    sink.close()
    sink.close()  # closing twice is harmless
    sink.send([Point("b", COUNT, 1.0, 0.0, ())])
    assert agent.lines(2) == ["a:1|c", "b:1|c"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_agent_that_is_not_listening_gives_a_retry_error_and_the_sink_recovers() -> None:
    # Linux: a connected UDP socket gets ICMP port-unreachable back and reports ECONNREFUSED
    # on a later operation; on loopback it is there as soon as send returns, and the sink
    # reads the socket's pending error after sending, so the same call fails.
    port = free_udp_port()
    sink = DogStatsDSink("127.0.0.1", port)
    try:
        with pytest.raises(SinkError) as caught:
            sink.send([Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS)])
        assert caught.value.kind == SinkError.RETRY
        assert "refused" in str(caught.value).lower() and str(port) in str(caught.value)
        # The Agent comes up on that port: the next send (a new socket) reaches it.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.bind(("127.0.0.1", port))
            up.settimeout(2)
            sink.send([Point(FILES_PROCESSED, COUNT, 1.0, 0.0, ())])
            assert up.recv(65535) == b"ingestion.files.processed:1|c"
    finally:
        sink.close()


def test_an_agent_that_stops_listening_makes_a_later_send_fail_with_retry() -> None:
    agent = Agent()
    sink = DogStatsDSink("127.0.0.1", agent.port)
    try:
        sink.send([Point("a", COUNT, 1.0, 0.0, ())])
        assert agent.lines(1) == ["a:1|c"]
        agent.close()
        with pytest.raises(SinkError) as caught:
            sink.send([Point("b", COUNT, 1.0, 0.0, ())])
        assert caught.value.kind == SinkError.RETRY
    finally:
        sink.close()


def test_a_host_name_that_does_not_resolve_gives_a_retry_error() -> None:
    sink = DogStatsDSink("no-such-agent.invalid", 8125)
    with pytest.raises(SinkError) as caught:
        sink.send([Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS)])
    assert caught.value.kind == SinkError.RETRY
    assert "no-such-agent.invalid" in str(caught.value)
    sink.close()


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_an_ipv6_agent_address_works() -> None:
    agent = Agent(socket.AF_INET6, "::1")
    sink = DogStatsDSink("::1", agent.port)
    try:
        sink.send([Point(FILES_PROCESSED, COUNT, 1.0, 0.0, TAGS[:1])])
        assert agent.lines(1) == ["ingestion.files.processed:1|c|#bucket:landing"]
    finally:
        sink.close()
        agent.close()
