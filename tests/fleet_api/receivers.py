"""Real local receivers for the notification tests: an HTTP server and an SMTP server.

``WebhookReceiver`` is the standard library's ThreadingHTTPServer on a free loopback port;
it records every request and answers what the test scripts (status codes, delays).
``SmtpReceiver`` is aiosmtpd's Controller (a real SMTP server in its own thread), with
STARTTLS when given a certificate, recording every message and refusing recipients
as the test scripts.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from broker.mosquitto import free_port


@dataclass(frozen=True)
class Request:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP server that records POSTs and answers ``script``ed statuses (then 200)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Request] = []
        self.script: deque[int | tuple[int, float]] = deque()
        """What to answer next: a status, or (status, seconds to wait first)."""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Request(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                    answer = receiver.script.popleft() if receiver.script else 200
                status, delay = answer if isinstance(answer, tuple) else (answer, 0.0)
                time.sleep(delay)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/hooks/fleet"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[Any]:
        """Every body received, decoded, in arrival order."""
        with self.lock:
            return [request.json() for request in self.requests]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@dataclass
class _Handler:
    messages: list[Message] = field(default_factory=list)
    refuse: deque[str] = field(default_factory=deque)
    """SMTP replies to give to the next RCPT commands instead of accepting them."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content, policy=policy.default))
        return "250 Message accepted"


class SmtpReceiver:
    """aiosmtpd on a free loopback port; STARTTLS required when ``cert`` is given."""

    def __init__(self, cert: tuple[Path, Path] | None = None) -> None:
        self.handler = _Handler()
        self.port = free_port()
        context = None
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=context is not None,
        )
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        """Every message accepted, in arrival order."""
        return self.handler.messages

    def close(self) -> None:
        """Stop the server."""
        self.controller.stop()
