"""DogStatsDSink: metric points as DogStatsD datagrams over UDP to the Datadog Agent.

One line per point, `<name>:<value>|<type>|#k:v,k:v`, type `d` (distribution), `c` (count) or
`g` (gauge). No timestamps: DogStatsD does not take them for `d`, and for `c`/`g` the Agent
stamps points on receipt (so a backlog sent late lands at the time it is sent, and counts are
increments the Agent adds up: this sink's `counts` is "increments").

Packets: lines are packed into UDP packets of at most 1432 bytes (datadogpy's
UDP_OPTIMAL_PAYLOAD_LENGTH: fits a 1500-byte Ethernet MTU), separated by "\\n"; a line is
never split. A line longer than a packet is sent alone (the Agent reads packets up to its
`dogstatsd_buffer_size`, 8192 by default); tags are never truncated, since that would silently
change the series. With normalised tags (domain.metrics.tag_value: seven tags of at most 100
characters) a line stays well under 1432 bytes; a line longer than 8192 bytes (which the Agent
would drop as malformed) is refused before anything is sent (SinkError REJECTED).

UDP is fire-and-forget: an Agent that is down loses the datagrams (DogStatsD's own semantics).
The socket is connected, so on Linux a refusal (ICMP port unreachable) is reported as
ECONNREFUSED on a later send on that socket; the sink also reads the socket's pending error
right after sending, which catches a refusal on the same call when the Agent is local
(loopback reports it at once). Such errors and name-resolution failures raise SinkError RETRY
and drop the socket, so the next call resolves and connects again. A local error after some
packets of a call went out (rare: ENOBUFS) also gives RETRY, and the retry may count those
packets twice; a refusal means the Agent was not listening, so nothing was counted.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Iterable, Sequence

from ingestflow.domain.errors import SinkError
from ingestflow.domain.metrics import COUNT, DISTRIBUTION, GAUGE, Point

MAX_PACKET = 1432  # bytes per UDP packet (datadogpy's UDP_OPTIMAL_PAYLOAD_LENGTH)
MAX_LINE = 8192  # the Agent's default dogstatsd_buffer_size: a longer packet is dropped
TYPES = {DISTRIBUTION: "d", COUNT: "c", GAUGE: "g"}

# Characters that would end a field, a tag or the line: replaced so one point stays one line.
_NAME_UNSAFE = re.compile(r"[\x00-\x20\x7f:|@#,]")
_TAG_UNSAFE = re.compile(r"[\x00-\x1f\x7f|#,]")


def format_value(value: float) -> str:
    """Compact: integers without ".0", other floats with repr precision."""
    number = float(value)  # an int passed as a float has no is_integer() before 3.12
    if number.is_integer() and abs(number) < 1e18:
        return str(int(number))
    return repr(number)


def datagram_line(point: Point) -> str:
    """One point as a DogStatsD line (no timestamp, no sample rate)."""
    kind = TYPES.get(point.kind)
    if kind is None:
        raise SinkError(f"dogstatsd: unknown point kind {point.kind!r}", SinkError.REJECTED)
    name = _NAME_UNSAFE.sub("_", point.metric)
    line = f"{name}:{format_value(point.value)}|{kind}"
    if point.tags:
        line += "|#" + ",".join(_TAG_UNSAFE.sub("_", tag) for tag in point.tag_list())
    return line


def packets(lines: Iterable[bytes], limit: int = MAX_PACKET) -> list[bytes]:
    """Lines joined by "\\n" into packets of at most `limit` bytes; never splits a line (a
    longer line is a packet of its own)."""
    out: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and size + 1 + len(line) > limit:
            out.append(b"\n".join(current))
            current, size = [], 0
        size += len(line) + (1 if current else 0)
        current.append(line)
    if current:
        out.append(b"\n".join(current))
    return out


class DogStatsDSink:
    """Sends points to a DogStatsD server (the Datadog Agent) at `host`:`port` over UDP.

    `send` packs and sends every packet before it returns (nothing is buffered between calls,
    so a short-lived process loses nothing at exit). Points whose value is not finite are
    skipped: DogStatsD has no way to carry them. Thread-compatible: one thread calls it."""

    counts = "increments"
    max_age: float | None = None

    def __init__(self, host: str, port: int, name: str = "dogstatsd") -> None:
        self.host = host
        self.port = port
        self.name = name
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        return f"DogStatsDSink(host={self.host!r}, port={self.port}, name={self.name!r})"

    def send(self, points: Sequence[Point], timeout: float | None = None) -> None:
        lines = [datagram_line(p).encode() for p in points if math.isfinite(p.value)]
        too_long = next((line for line in lines if len(line) > MAX_LINE), None)
        if too_long is not None:
            raise SinkError(
                f"dogstatsd: a {len(too_long)}-byte line exceeds the Agent's {MAX_LINE}-byte"
                f" packet limit ({too_long[:60].decode(errors='replace')!r}...)",
                SinkError.REJECTED,
            )
        if not lines:
            return
        sock = self._connect()
        try:
            for packet in packets(lines):
                sock.send(packet)
            pending = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if pending:
                raise OSError(pending, os.strerror(pending))
        except OSError as exc:
            self._drop_socket()
            raise SinkError(
                f"dogstatsd: cannot send to {self._where()}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        """Close the socket (a later `send` opens a new one)."""
        self._drop_socket()

    def _connect(self) -> socket.socket:
        """The connected socket, created on first use from the host's first usable address."""
        if self._sock is not None:
            return self._sock
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise SinkError(f"dogstatsd: cannot resolve {self._where()}: {exc}") from exc
        error: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self._sock = sock
            return sock
        reason = error.strerror if error is not None else "no address"
        raise SinkError(f"dogstatsd: cannot connect to {self._where()}: {reason}")

    def _drop_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _where(self) -> str:
        return f"{self.host!r} port {self.port}"
