"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives.

    with SmtpCapture() as smtp:                       # plain SMTP, no AUTH
        ...  # point the notifier at smtp.host, smtp.port
        mail = smtp.wait_for_messages(1)[0]
        mail.message["Subject"], mail.text, mail.html

Modes: `security="none"` (plain), `"starttls"` (STARTTLS offered, not required) or `"tls"`
(implicit TLS from the first byte); the TLS modes need `tls=make_certificate(tmp_path)`, a
self-signed certificate for 127.0.0.1 and localhost. `users={"name": "password"}` enables
AUTH (PLAIN, LOGIN), offered only over TLS (STARTTLS or implicit) unless
`auth_require_tls=False`.
`refuse={"x@example.org"}` answers 550 to those recipients.

The certificate comes from the `cryptography` package when installed, else `trustme`, else the
`openssl` command (whichever this environment has: see `certificate_source`). Clients trust it
through `SSL_CERT_FILE=<TlsFiles.ca>`, which `ssl.create_default_context()` honours.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import importlib.util
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's certificate chain (PEM)
    key: Path  # its private key (PEM)
    ca: Path  # what a client must trust (PEM)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def certificate_source() -> str:
    """Which tool `make_certificate` uses here: cryptography, trustme or openssl."""
    for module in ("cryptography", "trustme"):
        if importlib.util.find_spec(module) is not None:
            return module
    if shutil.which("openssl"):
        return "openssl"
    raise RuntimeError("no way to make a test certificate: cryptography, trustme or openssl")


def make_certificate(directory: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    files = TlsFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    source = certificate_source()
    if source == "cryptography":
        _with_cryptography(files)
    elif source == "trustme":
        _with_trustme(files)
    else:
        _with_openssl(files)
    return files


def _with_openssl(files: TlsFiles) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(files.key), "-out", str(files.cert), "-days", "1",
         "-subj", "/CN=ingestflow test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    shutil.copyfile(files.cert, files.ca)


def _with_trustme(files: TlsFiles) -> None:
    import trustme

    ca = trustme.CA()
    ca.issue_cert(HOST, "localhost").private_key_and_cert_chain_pem.write_to_path(str(files.cert))
    shutil.copyfile(files.cert, files.key)  # one PEM holds the key and the chain
    ca.cert_pem.write_to_path(str(files.ca))


def _with_cryptography(files: TlsFiles) -> None:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingestflow test")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    shutil.copyfile(files.cert, files.ca)


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the envelope, the raw DATA, and how the session was set up."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None
    message: EmailMessage = field(repr=False)

    def part(self, content_type: str) -> str:
        """The decoded body part of that type ("text/plain", "text/html")."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return str(part.get_content())  # type: ignore[attr-defined]
        raise KeyError(content_type)

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


class _Controller(Controller):
    """aiosmtpd's Controller, listening on port 0: the chosen port is read back before the
    controller's own first connection."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpCapture:
    def __init__(
        self,
        security: str = "none",
        tls: TlsFiles | None = None,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        refuse: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(security)
        if security != "none" and tls is None:
            raise ValueError("a TLS mode needs tls=make_certificate(...)")
        self.security, self.users, self.refuse = security, dict(users or {}), set(refuse)
        self.auth_attempts: list[str] = []  # login names tried, in order
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS session is TLS too.
        kwargs: dict[str, Any] = {"auth_require_tls": auth_require_tls and security != "tls"}
        if users is not None:
            kwargs["authenticator"] = self._authenticate
        context = tls.server_context() if tls is not None else None
        if security == "starttls":
            kwargs["tls_context"] = context
        self._controller = _Controller(
            _Handler(self),
            hostname=HOST,
            port=0,
            ssl_context=context if security == "tls" else None,
            **kwargs,
        )
        self._running = False

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> Self:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def wait_for_messages(self, n: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """The first `n` messages, waiting for them (the server thread stores them)."""
        self.wait_for(lambda: len(self.messages) >= n, timeout)
        found = self.messages
        assert len(found) >= n, f"expected {n} messages, got {len(found)}"
        return found[:n]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- called by aiosmtpd, in its thread --------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        with self._lock:
            self.auth_attempts.append(login)
        ok = login in self.users and self.users[login] == password
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def _store(self, session: Session, envelope: Envelope) -> None:
        data = envelope.original_content or b""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        mail = ReceivedMail(
            str(envelope.mail_from),
            tuple(envelope.rcpt_tos),
            data,
            session.ssl is not None or self.security == "tls",
            login,
            parsed,
        )
        with self._lock:
            self._messages.append(mail)


class _Handler:
    def __init__(self, capture: SmtpCapture) -> None:
        self.capture = capture

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.capture.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.capture._store(session, envelope)
        return "250 Message accepted for delivery"
