"""Test clients for the secured broker: a recording paho client, and a raw MQTT v5 publisher.

``Probe`` runs paho's own network thread (``loop_start``, so paho writes to the TLS
socket from that thread only) with ``reconnect_on_failure=False``, so a refusal or a
disconnect stays visible, and records everything the broker answers.
Waits are on a condition variable (a barrier), never a fixed sleep.

``raw_publish_v5`` exists because paho 2.2 cannot decode the PUBACK Mosquitto 2.0.11
sends for an oversized payload (reason 0x95 is not a valid PUBACK code in MQTT 5, so
paho drops the connection as malformed); reading the bytes ourselves shows what the
broker really answered.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from broker.endpoint import BrokerEndpoint
from broker.tls import TlsSettings

TIMEOUT = 10.0
NO_MATCHING_SUBSCRIBERS = 0x10
"""A success code: Mosquitto 2.0.11 sends it in a v5 PUBACK when nobody subscribed."""
NOT_AUTHORIZED = 0x87
PACKET_TOO_LARGE = 0x95
UNSPECIFIED_ERROR = 0x80


@dataclass
class Probe:
    """A connected (or refused) paho client and everything the broker told it."""

    client: mqtt.Client
    connack: int | None = None
    disconnects: list[int] = field(default_factory=list)
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    pubacks: dict[int, int] = field(default_factory=dict)
    subacks: dict[int, list[int]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Block until ``predicate()`` holds (checked on every broker event), else fail."""
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}: {self!r}")

    def topics(self) -> list[str]:
        """Topics of the messages received so far, in order."""
        with self._changed:
            return [m.topic for m in self.messages]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        self.wait(f"PUBACK for {topic}", lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def subscribe(self, topic_filter: str) -> list[int]:
        """Subscribe at QoS 1 and return the SUBACK reason codes."""
        _, mid = self.client.subscribe(topic_filter, qos=1)
        assert mid is not None
        self.wait(f"SUBACK for {topic_filter}", lambda: mid in self.subacks)
        return self.subacks[mid]

    def wait_for_topic(self, topic: str) -> None:
        """Barrier: block until a message on ``topic`` has arrived."""
        self.wait(f"a message on {topic}", lambda: topic in [m.topic for m in self.messages])

    def wait_disconnected(self) -> int:
        """Barrier: block until the broker dropped us; return the reason code."""
        self.wait("a disconnect", lambda: bool(self.disconnects))
        return self.disconnects[0]

    def close(self) -> None:
        """Disconnect cleanly (if still connected) and stop the network thread."""
        if self.connack == 0 and not self.disconnects:
            self.client.disconnect()
        self.client.loop_stop()
        # paho closes its wake-up socketpair only in __del__; a connection the broker
        # dropped would otherwise leave it to the GC (a ResourceWarning, an error here).
        self.client._reset_sockets()

    # paho callbacks (VERSION2 signatures); each one notifies waiters.
    def _event(self, update: Callable[[], None]) -> None:
        with self._changed:
            update()
            self._changed.notify_all()

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        self._event(lambda: setattr(self, "connack", rc.value))

    def _on_disconnect(
        self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object
    ) -> None:
        self._event(lambda: self.disconnects.append(rc.value))

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        self._event(lambda: self.messages.append(msg))

    def _on_publish(self, c: mqtt.Client, u: object, mid: int, rc: ReasonCode, p: object) -> None:
        self._event(lambda: self.pubacks.__setitem__(mid, rc.value))

    def _on_subscribe(
        self, c: mqtt.Client, u: object, mid: int, rcs: list[ReasonCode], p: object
    ) -> None:
        self._event(lambda: self.subacks.__setitem__(mid, [rc.value for rc in rcs]))


def connect(
    endpoint: BrokerEndpoint,
    *,
    username: str | None,
    password: str | None,
    tls: TlsSettings | None,
    client_id: str = "",
    protocol: MQTTProtocolVersion = mqtt.MQTTv5,
    wait_connack: bool = True,
) -> Probe:
    """Connect a Probe the way the agent and the ingest do, and wait for the CONNACK."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        transport=endpoint.transport,
        reconnect_on_failure=False,
    )
    probe = Probe(client)
    client.on_connect = probe._on_connect
    client.on_disconnect = probe._on_disconnect
    client.on_message = probe._on_message
    client.on_publish = probe._on_publish
    client.on_subscribe = probe._on_subscribe
    if endpoint.transport == "websockets":
        client.ws_set_options(path=endpoint.path)
    if tls is not None:
        client.tls_set(**tls.tls_set_kwargs())
    if username is not None:
        client.username_pw_set(username, password)
    properties = None
    if protocol == mqtt.MQTTv5:
        # A session that survives disconnects, like the agent's.
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
    client.connect(endpoint.host, endpoint.port, keepalive=30, properties=properties)
    client.loop_start()
    if wait_connack:
        probe.wait("CONNACK", lambda: probe.connack is not None or bool(probe.disconnects))
    return probe


def connack_refused(probe: Probe) -> int:
    """The CONNACK reason of a refused connection (asserting it was refused)."""
    probe.wait("the refusal to end the connection", lambda: bool(probe.disconnects))
    assert probe.connack is not None, f"no CONNACK at all: {probe!r}"
    assert probe.connack != 0, "the broker accepted the connection"
    return probe.connack


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    header = read(1)[0]
    length, shift = 0, 0
    while True:
        byte = read(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return header, read(length)


def raw_publish_v5(
    host: str, port: int, ca_file: str, username: str, password: str, topic: str, payload: bytes
) -> int:
    """Send CONNECT and one QoS 1 PUBLISH in MQTT v5 over TLS; return the PUBACK reason."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection((host, port), timeout=TIMEOUT) as plain,
        context.wrap_socket(plain, server_hostname=host) as sock,
    ):
        flags = 0x80 | 0x40 | 0x02  # username, password, clean start
        variable = _utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", 30) + b"\x00"
        body = variable + _utf8("") + _utf8(username) + _utf8(password)
        sock.sendall(b"\x10" + _varint(len(body)) + body)
        kind, connack = _read_packet(sock)
        assert (kind >> 4, connack[1]) == (2, 0), f"CONNACK refused: {connack!r}"
        packet_id = 1
        body = _utf8(topic) + struct.pack("!H", packet_id) + b"\x00" + payload
        sock.sendall(b"\x32" + _varint(len(body)) + body)
        started = time.monotonic()
        while time.monotonic() - started < TIMEOUT:
            kind, packet = _read_packet(sock)
            if kind >> 4 == 4 and struct.unpack("!H", packet[:2])[0] == packet_id:
                return packet[2] if len(packet) > 2 else 0
    raise AssertionError("no PUBACK from the broker")
