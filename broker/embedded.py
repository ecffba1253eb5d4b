"""The embedded MQTT broker for the single-machine default (``make demo``).

It is rumqttd, compiled into the ``iotcore`` wheel and run in a child process that
dies with its parent. It is bound to 127.0.0.1 only, speaks MQTT 5 (and 3.1.1 on an
optional second port), keeps retained messages and sessions in memory, honours last
wills and ``$share/`` subscriptions. It has no authentication, no ACLs and keeps
nothing on disk: a demo on one machine, never a fleet. Production runs Mosquitto
(``broker/mosquitto/``). See README.md, "Why this embedded broker".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from broker.errors import BrokerStartError
from broker.limits import MAX_PAYLOAD_BYTES

LOOPBACK = "127.0.0.1"

_LISTENER = """
[{proto}.1]
name = "{proto}-loopback"
listen = "{host}:{port}"
next_connection_delay_ms = 1
    [{proto}.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = {max_payload}
    max_inflight_count = 1000
    dynamic_filters = true
"""

_ROUTER = """id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10
"""


def rumqttd_config(port: int, *, v311_port: int | None = None, host: str = LOOPBACK) -> str:
    """rumqttd TOML: an MQTT 5 listener on ``port`` and optionally 3.1.1 on ``v311_port``."""
    if host != LOOPBACK:
        raise BrokerStartError(
            f"the embedded broker only binds {LOOPBACK} (asked for {host}): it has no "
            "authentication; run Mosquitto for anything reachable from the network"
        )
    config = _ROUTER + _LISTENER.format(
        proto="v5", host=host, port=port, max_payload=MAX_PAYLOAD_BYTES + 1024
    )
    if v311_port is not None:
        config += _LISTENER.format(
            proto="v4", host=host, port=v311_port, max_payload=MAX_PAYLOAD_BYTES + 1024
        )
    return config


class EmbeddedBroker:
    """rumqttd on loopback in a child process; ``with EmbeddedBroker(port) as b: ...``."""

    def __init__(self, port: int, *, v311_port: int | None = None) -> None:
        self.host = LOOPBACK
        self.port = port
        self.v311_port = v311_port
        self._dir = tempfile.TemporaryDirectory(prefix="embedded-broker-")
        self.config_path = Path(self._dir.name) / "rumqttd.toml"
        self.config_path.write_text(rumqttd_config(port, v311_port=v311_port))
        self._broker: Any = None

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start the broker process and wait until it listens."""
        try:
            from iotcore import Broker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BrokerStartError(
                "the embedded broker needs the 'broker' extra: pip install 'exhibit-fleet[broker]'"
            ) from exc
        broker = Broker(config_path=str(self.config_path))
        try:
            broker.start(timeout=timeout)
        except (OSError, RuntimeError) as exc:
            raise BrokerStartError(f"embedded broker on {self.host}:{self.port}: {exc}") from exc
        self._broker = broker
        return self

    def stop(self) -> None:
        """Stop the broker process and release its ports."""
        if self._broker is not None:
            self._broker.stop()
            self._broker = None

    def close(self) -> None:
        """Stop and remove the temporary config."""
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
