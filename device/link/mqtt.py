"""The real broker link on paho-mqtt 2.x: the only module that imports paho.

MQTT v5, ``CallbackAPIVersion.VERSION2``. One supervisor thread connects, runs paho's
network thread for that connection, and when the connection ends waits an exponential,
jittered backoff before trying again. Each connection uses a fresh paho client, so
paho's RAM-only queue of a dead connection is dropped with it: the agent's outbox is the
only source of truth and resends what was not acknowledged (paho itself would lose QoS 1
messages silently past 65,535 outstanding, paho issue #377).

On every connection the last will (retained offline status) is registered, the
subscriptions (the exhibit's assignment and command topics, retained) are made again and
the birth message (retained online status) is published before the agent hears about it.

Transport and security come from the broker URL (``broker.endpoint``): TCP or WebSocket
(with its path), TLS with the CA and optional client certificate of ``TlsOptions``
(``device.settings.config.TlsFiles``, or ``broker.tls.TlsSettings``; always verified).

MQTT 5 where the broker speaks it: with ``protocol="auto"`` the link starts with v5 and
falls back to 3.1.1 for the rest of the process when the broker answers "unsupported
protocol version" or twice closes a v5 connection before any CONNACK (brokers that only
speak 3.1.1 do either) -- but never once this broker has answered MQTT 5: after that,
connections closed unanswered are a bad network, not an old broker. 3.1.1 has no PUBACK
reason codes, so a refused publish is silent there; v5 reports it (0x87) and the agent
keeps those records.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from device.link.base import LinkEvents, Publication, refusals

if TYPE_CHECKING:
    from broker.tls import TlsSetKwargs

log = logging.getLogger(__name__)


class TlsOptions(Protocol):
    """TLS files to use: anything that gives paho's ``tls_set`` keyword arguments."""

    def tls_set_kwargs(self) -> TlsSetKwargs:
        """Keyword arguments for ``Client.tls_set`` (None: paho's default)."""
        ...


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """Where and how to connect."""

    host: str
    port: int
    client_id: str
    transport: Literal["tcp", "websockets"] = "tcp"
    ws_path: str = "/mqtt"
    tls: TlsOptions | None = None
    username: str | None = None
    password: str | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    keepalive: int = 30
    will: Publication | None = None
    birth: Callable[[], Publication] | None = None
    subscriptions: tuple[str, ...] = ()
    max_inflight: int = 100
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 60.0
    connect_timeout_s: float = 5.0


def backoff_delay(
    attempt: int, *, low: float, high: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before connection attempt ``attempt`` (0-based): exponential, jittered.

    The ceiling doubles from ``low`` up to ``high``; the delay is drawn from its upper
    half so a fleet that lost its broker at once does not return at once.
    """
    ceiling: float = min(high, low * 2.0 ** min(attempt, 32))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass
class _Connection:
    session: int
    client: mqtt.Client
    protocol: int
    gone: threading.Event = field(default_factory=threading.Event)
    answered: bool = False  # a CONNACK came, accepting or not
    up: bool = False
    reported_down: bool = False


class MqttLink:
    """A self-reconnecting paho connection implementing ``device.link.base.Link``."""

    def __init__(self, options: LinkOptions, *, rand: Callable[[], float] = random.random) -> None:
        self.options = options
        self._rand = rand
        self._events: LinkEvents | None = None
        self._lock = threading.Lock()
        self._current: _Connection | None = None
        self._live: int | None = None
        self._sessions = itertools.count(1)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._protocol = mqtt.MQTTv311 if options.protocol == "3.1.1" else mqtt.MQTTv5
        self._silent_v5 = 0  # v5 connections closed before any CONNACK, in a row
        self._v5_answered = False  # this broker has sent an MQTT 5 CONNACK once

    @property
    def protocol(self) -> str:
        """The MQTT version the next connection uses: ``5`` or ``3.1.1``."""
        return "5" if self._protocol == mqtt.MQTTv5 else "3.1.1"

    @property
    def session(self) -> int | None:
        """The live session number, or None while disconnected."""
        return self._live

    def start(self, events: LinkEvents) -> None:
        """Begin connecting in a background thread."""
        if self._thread is not None:
            raise RuntimeError("MqttLink.start() called twice")
        self._events = events
        self._thread = threading.Thread(
            target=self._supervise, name=f"mqtt-{self.options.client_id}", daemon=True
        )
        self._thread.start()

    def publish(self, session: int, message: Publication) -> int | None:
        """Publish on ``session`` if it is still the live one; return paho's message id."""
        with self._lock:
            conn = self._current
            if conn is None or self._live != session or conn.session != session:
                return None
            info = conn.client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return info.mid

    def sever(self) -> None:
        """Drop the TCP connection without DISCONNECT, like a Wi-Fi loss; then reconnect.

        The broker publishes the last will. For fault injection (tests, the simulator).
        """
        conn = self._current
        if conn is not None:
            _shutdown(conn.client)

    def close(self, *, farewell: Publication | None, timeout: float, abrupt: bool = False) -> None:
        """Stop reconnecting; publish ``farewell`` and disconnect, or just drop the socket."""
        with self._lock:  # pairs with _connect(): either we see the connection or it sees us
            self._stopping.set()
            conn = self._current
        if conn is not None:
            if conn.up and not abrupt:
                if farewell is not None:
                    self._send_and_wait(conn.client, farewell, timeout)
                conn.client.disconnect()
                conn.gone.wait(timeout)
            # Whatever happened above, make sure paho's thread sees the end of the socket
            # (it would otherwise keep waiting for acks) and the supervisor wakes up.
            _shutdown(conn.client)
            conn.gone.set()
        if self._thread is not None:
            self._thread.join(timeout + self.options.connect_timeout_s)

    @staticmethod
    def _send_and_wait(client: mqtt.Client, message: Publication, timeout: float) -> None:
        info = client.publish(
            message.topic, message.payload, qos=message.qos, retain=message.retain
        )
        try:
            info.wait_for_publish(timeout)
        except (ValueError, RuntimeError) as exc:
            log.warning("farewell on %s not delivered: %s", message.topic, exc)

    # -- supervisor thread ---------------------------------------------------------------

    def _supervise(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            conn = self._connect()
            if conn is not None:
                if not conn.gone.wait(self.options.connect_timeout_s) and not conn.up:
                    log.warning("no CONNACK within %.1fs; dropping", self.options.connect_timeout_s)
                    _shutdown(conn.client)
                conn.gone.wait()
                conn.client.loop_stop()
                _close(conn.client)  # paho leaves it to the garbage collector otherwise
                self._forget(conn)
                self._maybe_fall_back(conn)
                if conn.up:
                    attempt = 0
            if self._stopping.is_set():
                break
            delay = backoff_delay(
                attempt,
                low=self.options.reconnect_min_s,
                high=self.options.reconnect_max_s,
                rand=self._rand,
            )
            attempt += 1
            self._stopping.wait(delay)

    def _maybe_fall_back(self, conn: _Connection) -> None:
        if self.options.protocol != "auto" or conn.protocol != mqtt.MQTTv5:
            return
        # A broker that once spoke MQTT 5 still does: a dead school Wi-Fi or a proxy
        # closing connections unanswered must not downgrade us to silent refusals.
        self._v5_answered = self._v5_answered or conn.answered
        if self._v5_answered:
            return
        self._silent_v5 = 0 if conn.answered else self._silent_v5 + 1
        if self._silent_v5 >= 2:
            log.warning(
                "broker %s:%s closed two MQTT 5 connections unanswered: using MQTT 3.1.1",
                self.options.host,
                self.options.port,
            )
            self._protocol = mqtt.MQTTv311

    def _connect(self) -> _Connection | None:
        options = self.options
        conn = _Connection(next(self._sessions), self._new_client(), self._protocol)
        self._bind(conn)
        with self._lock:
            if self._stopping.is_set():
                return None
            self._current = conn
        try:
            conn.client.connect(options.host, options.port, keepalive=options.keepalive)
        except ssl.SSLError as exc:
            log.error(
                "TLS with %s:%s failed: %s; check EXHIBIT_TLS_CA_FILE and the broker's certificate",
                options.host,
                options.port,
                exc,
            )
            self._abandon(conn)
            return None
        except OSError as exc:
            log.info("broker %s:%s unreachable: %s", options.host, options.port, exc)
            self._abandon(conn)
            return None
        conn.client.loop_start()
        return conn

    def _abandon(self, conn: _Connection) -> None:
        with self._lock:
            if self._current is conn:
                self._current = None
        _close(conn.client)

    def _new_client(self) -> mqtt.Client:
        options = self.options
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=self._protocol,
            transport=options.transport,
            reconnect_on_failure=False,
        )
        client.connect_timeout = options.connect_timeout_s
        if options.transport == "websockets":
            client.ws_set_options(path=options.ws_path)
        if options.tls is not None:
            client.tls_set(**options.tls.tls_set_kwargs())
        # Room for our window plus birth and heartbeats; the agent bounds the window itself.
        client.max_inflight_messages_set(options.max_inflight + 4)
        if options.username is not None:
            client.username_pw_set(options.username, options.password)
        if options.will is not None:
            will = options.will
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        return client

    def _bind(self, conn: _Connection) -> None:
        """Attach callbacks that know which session they belong to."""

        def on_connect(
            client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
        ) -> None:
            conn.answered = True
            if reason.is_failure:
                self._refused(conn, reason)
                client.disconnect()
                return
            topics = self.options.subscriptions
            if topics:
                client.subscribe([(topic, 1) for topic in topics])
            birth = self.options.birth
            if birth is not None:
                message = birth()
                client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
            with self._lock:
                if self._current is conn:
                    self._live = conn.session
                    conn.up = True
            if conn.up and self._events is not None:
                log.info("connected to %s:%s", self.options.host, self.options.port)
                self._events.link_connected(conn.session)

        def on_disconnect(
            client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
        ) -> None:
            # Called with paho's locks held in some paths: only flag it; the supervisor
            # thread does the bookkeeping.
            log.info("disconnected from %s:%s: %s", self.options.host, self.options.port, reason)
            conn.gone.set()

        def on_publish(
            client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
        ) -> None:
            # paho holds its message lock here: hand off and return.
            if self._events is not None:
                self._events.link_acked(conn.session, mid, not reason.is_failure, str(reason))

        def on_subscribe(
            client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
        ) -> None:  # one SUBSCRIBE of every topic filter at each connection: one code each
            if self._events is not None:
                self._events.link_subscribed(
                    conn.session, refusals(self.options.subscriptions, codes)
                )

        def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            if self._events is not None:
                # MQTT v5: the time the message has left, by the broker's clock (the agent's
                # may be unsynced); 3.1.1 carries no properties.
                expiry = getattr(message.properties, "MessageExpiryInterval", None)
                self._events.link_message(
                    conn.session,
                    message.topic,
                    bytes(message.payload),
                    None if expiry is None else int(expiry),
                )

        conn.client.on_connect = on_connect
        conn.client.on_disconnect = on_disconnect
        conn.client.on_publish = on_publish
        conn.client.on_message = on_message
        conn.client.on_subscribe = on_subscribe

    def _refused(self, conn: _Connection, reason: ReasonCode) -> None:
        if reason.getName() == "Unsupported protocol version" and self.options.protocol == "auto":
            log.warning("broker does not speak MQTT 5: using MQTT 3.1.1")
            self._protocol = mqtt.MQTTv311
            return
        log.error(
            "broker %s:%s refused the connection: %s; check EXHIBIT_USERNAME and "
            "EXHIBIT_PASSWORD (fleet-api broker rotate prints new ones)",
            self.options.host,
            self.options.port,
            reason,
        )
        if self._events is not None:
            self._events.link_refused(str(reason))

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            if self._current is conn:
                self._current = None
            if self._live == conn.session:
                self._live = None
        _close(conn.client)  # this client is never used again
        if conn.up and not conn.reported_down and self._events is not None:
            conn.reported_down = True
            self._events.link_disconnected(conn.session, "connection closed")


def _shutdown(client: mqtt.Client) -> None:
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already gone
            sock.shutdown(socket.SHUT_RDWR)


def _close(client: mqtt.Client) -> None:
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.close()
