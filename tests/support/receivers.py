"""Receivers on 127.0.0.1 for alert tests: an HTTP server that records what it is sent (and can be
told to answer 500 or to answer too late), and an SMTP server that needs a login."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session, SMTP


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """``mode``: "ok" (204, recorded), an HTTP status such as "500" or "301", or "slow" (answers
    after ``delay`` seconds, unrecorded)."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    mode: str = "ok"
    delay: float = 2.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        self.received.clear()
        self.mode = "ok"


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver: HttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.mode == "slow":
                # Answered after the sender gave up: not counted as received (it may still arrive
                # after the test moved on).
                time.sleep(receiver.delay)
                self.send_response(200)
                self.end_headers()
                return
            if receiver.mode.isdigit():  # an error status, or a redirect
                self.send_response(int(receiver.mode))
                self.send_header("Location", "/elsewhere")
                self.end_headers()
                return
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = HttpReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpReceiver:
    port: int
    user: str
    password: str
    messages: list[EmailMessage] = field(default_factory=list)

    def url(self, **query: str) -> str:
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return (f"mailto://{self.user}:{self.password}@127.0.0.1:{self.port}"
                f"?mode=insecure&from=alerts@mine.test&to=me@mine.test{extra}")


@contextmanager
def smtp_receiver(user: str = "alerts", password: str = "Smtp-Pa55word") -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(closed_port(), user, password)

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
            receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object) -> AuthResult:
        login = getattr(data, "login", b"")
        secret = getattr(data, "password", b"")
        return AuthResult(success=(login, secret) == (user.encode(), password.encode()))

    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
