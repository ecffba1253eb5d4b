"""Broker URLs as the agent and the ingest are configured with them.

    mqtts://broker.example.org:8883     MQTT over TLS (production)
    wss://broker.example.org:443/mqtt   MQTT over WebSocket over TLS (schools that allow only 443)
    mqtt://127.0.0.1:1883               plain MQTT (the embedded single-machine broker)
    ws://127.0.0.1:8080/mqtt            plain WebSocket

Parsed once here so both sides agree on schemes and default ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from broker.errors import BrokerUrlError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}
WEBSOCKET_PATH = "/mqtt"


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """Where and how to connect: host, port, TLS or not, TCP or WebSocket (with its path)."""

    host: str
    port: int
    tls: bool
    transport: Literal["tcp", "websockets"]
    path: str = WEBSOCKET_PATH

    @classmethod
    def parse(cls, url: str) -> BrokerEndpoint:
        """Parse ``mqtt[s]://host[:port]`` or ``ws[s]://host[:port][/path]``."""
        parts = urlsplit(url)
        if "@" in parts.netloc:
            # Checked first, and the URL is not echoed: it may hold a password.
            raise BrokerUrlError(
                "broker URL must not contain credentials: set the username and password "
                "in their own settings"
            )
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise BrokerUrlError(
                f"broker URL {url!r} must start with mqtts://, wss://, mqtt:// or ws://"
            )
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise BrokerUrlError(f"broker URL {url!r} has an invalid port") from None
        if not parts.hostname:
            raise BrokerUrlError(f"broker URL {url!r} has no host, e.g. mqtts://broker:8883")
        if parts.query or parts.fragment:
            raise BrokerUrlError(f"broker URL {url!r} may hold only scheme, host, port and path")
        websocket = scheme in ("ws", "wss")
        if not websocket and parts.path not in ("", "/"):
            raise BrokerUrlError(f"broker URL {url!r}: only ws:// and wss:// URLs take a path")
        return cls(
            host=parts.hostname,
            port=port,
            tls=scheme in ("mqtts", "wss"),
            transport="websockets" if websocket else "tcp",
            path=parts.path or WEBSOCKET_PATH,
        )

    @property
    def url(self) -> str:
        """The URL back, with the port always spelled out."""
        if self.transport == "websockets":
            scheme = "wss" if self.tls else "ws"
        else:
            scheme = "mqtts" if self.tls else "mqtt"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.path if self.transport == "websockets" else ""
        return f"{scheme}://{host}:{self.port}{path}"
