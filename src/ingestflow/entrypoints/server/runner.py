"""Running the ASGI app under uvicorn: in a daemon thread (inside `ingestflow run`) or in the
foreground (`ingestflow serve`).

The listening socket is bound here, before uvicorn starts, so a port that is taken fails in
the caller as an OSError (uvicorn itself would log and `sys.exit`), and port 0 gives the real
port at once. uvicorn runs quietly: no access log, its own messages only from ERROR up (they
propagate to the process's logging; uvicorn's logging config is not installed), no lifespan,
no WebSocket implementation loaded until a later page needs one.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

_SHUTDOWN_GRACE = 3  # seconds open requests get to finish when the server stops


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) — the first address `host` resolves to — not yet
    listening. OSError naming the address when none can be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    problem: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if os.name != "nt":  # a restart may rebind at once (TIME_WAIT)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            problem = exc
            continue
        return sock
    reason = problem.strerror if problem is not None else "no address"
    errno = problem.errno if problem is not None else None
    raise OSError(errno, f"cannot listen on {host}:{port}: {reason}")


def server_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RunningServer:
    """A uvicorn server serving in a daemon thread. `port` is the bound port (the real one
    when 0 was asked), `url` the base URL; `stop()` ends it and joins the thread."""

    def __init__(self, app: ASGIApp, sock: socket.socket, host: str) -> None:
        self.host = host
        self.port: int = sock.getsockname()[1]
        self.url = server_url(host, self.port)
        self._socket = sock
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            log_level="error",
            access_log=False,
            http="h11",
            ws="none",
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE,
        )
        self._server = uvicorn.Server(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ingestflow-server", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # SystemExit too: uvicorn exits on a failed startup
            self._error = exc

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the socket listens. RuntimeError when it does not."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the HTTP server on {self.url} did not start") from (
                    self._error
                )
            time.sleep(0.01)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = _SHUTDOWN_GRACE + 2.0) -> None:
        """Stop accepting, let open requests finish (a few seconds at most), join."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(2.0)
        self._socket.close()  # uvicorn closes it on shutdown; not when startup failed

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(app: ASGIApp, host: str, port: int) -> RunningServer:
    """Serve `app` on (host, port) in a daemon thread; returns once it listens. OSError when
    the address cannot be bound (in use, not local), RuntimeError when uvicorn fails."""
    server = RunningServer(app, bind_socket(host, port), host)
    server.start()
    return server


def serve_forever(
    app: ASGIApp,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Serve `app` in the foreground: calls `on_ready(url)` once listening, returns (after a
    clean shutdown) on SIGINT or SIGTERM — handled only when called from the main thread —
    or when `stop` is set. Errors as `start_server`; RuntimeError if the server dies."""
    stop = stop or threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main else ()
    previous = [(sig, signal.signal(sig, handle)) for sig in signals]
    try:
        with start_server(app, host, port) as server:
            on_ready(server.url)
            while not stop.wait(0.2):
                if not server.alive:
                    raise RuntimeError(f"the HTTP server on {server.url} stopped")
    finally:
        for sig, handler in previous:
            if handler is not None:  # None: a handler not set from Python; nothing to restore
                signal.signal(sig, handler)
