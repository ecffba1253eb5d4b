"""The fleet's MQTT subscription with paho-mqtt 2.x: the only module of fleet_api importing paho.

MQTT v5 with a persistent session (fixed client id, ``clean_start=False`` and a
session expiry) so the broker queues for us while the API is down, and manual acks so
a message is acknowledged only after ingestion committed it. paho calls back from its
own network thread; messages are handed on through ``deliver`` without any I/O here.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from broker.messages import utc_now
from broker.topics import Channel, subscription
from fleet_api.errors import BrokerUnavailable
from fleet_api.inbound import Deliver, Inbound
from fleet_api.settings import MqttEndpoint, Settings
from fleet_api.triage import INGESTED_CHANNELS

log = logging.getLogger(__name__)

PUBLISHED_KEPT = 10_000
"""PUBACK reason codes remembered until publish() reads its own (the oldest go first)."""


class MqttSource:
    """Receives what exhibits send, acks only when told to; publishes what the fleet sends."""

    def __init__(self, settings: Settings) -> None:
        endpoint = settings.mqtt_endpoint()
        if endpoint is None:
            raise ValueError("MqttSource needs FLEET_MQTT_URL")
        self._endpoint = endpoint
        self._settings = settings
        self._lock = threading.Lock()
        self._session = 0
        self._connected = False
        self._subscribed = False
        self._deliver: Deliver | None = None
        # PUBACK reason codes of our own publications, by packet id, until read.
        self._published: dict[int, ReasonCode] = {}
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        settings = self._settings
        client = _new_client(settings, self._endpoint)
        client.reconnect_delay_set(settings.mqtt_reconnect_min_s, settings.mqtt_reconnect_max_s)
        # A custody acknowledgement per exhibit per batch goes out unwaited: let the
        # broker's answers keep up with them instead of paho's default window of 20.
        client.max_inflight_messages_set(settings.ingest_inflight_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    @property
    def connected(self) -> bool:
        """Whether we are connected and subscribed, i.e. ready to receive everything."""
        return self._connected and self._subscribed

    def start(self, deliver: Deliver) -> None:
        """Connect in the background (paho retries with backoff) and deliver every message."""
        self._deliver = deliver
        # The broker stops sending once this many QoS 1 messages are unacked: since we
        # ack after commit, this bounds what waits in memory while the database is slow.
        properties = _session(self._settings, receive_maximum=self._settings.ingest_inflight_max)
        self._client.connect_async(
            self._endpoint.host,
            self._endpoint.port,
            keepalive=self._settings.mqtt_keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def ack(self, message: Inbound) -> None:
        """PUBACK ``message`` if it came over the current connection."""
        if message.qos == 0:
            return
        with self._lock:
            # After a reconnect the broker redelivers what we had not acked; that copy
            # is acked when its own batch is committed, not this one.
            if message.session != self._session or not self._connected:
                return
        self._client.ack(message.mid, message.qos)

    def send(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1 without waiting (custody acknowledgements); dropped if disconnected."""
        if self._connected:
            self._client.publish(topic, payload, qos=1)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool,
        timeout_s: float,
        expiry_s: int | None = None,
    ) -> None:
        """Publish QoS 1 and wait for the PUBACK; BrokerUnavailable if that does not happen.

        ``expiry_s``: an MQTT v5 Message Expiry Interval (the broker drops the message
        then, retained or queued, and tells a subscriber the time left).
        """
        if not self.connected:
            # Not queued for later: a caller told "unavailable" must not see it arrive
            # anyway after a reconnect.
            raise BrokerUnavailable(
                f"not connected to the MQTT broker {self._where()}: nothing was sent; "
                "try again when GET /healthz says ingestion is connected"
            )
        properties = None
        if expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerUnavailable(f"publishing to {topic!r} failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerUnavailable(f"publishing to {topic!r} failed: {exc}") from None
        with self._lock:
            reason = self._published.pop(info.mid, None)
        if not info.is_published():
            raise BrokerUnavailable(
                f"the broker {self._where()} did not acknowledge {topic!r} within "
                f"{timeout_s:g}s; it may still arrive: repeat the request to be sure"
            )
        if reason is not None and reason.is_failure:
            raise BrokerUnavailable(
                f"the broker {self._where()} refused {topic!r}: {reason} (is this service "
                "account allowed to write it? see `fleet-api broker --help`)"
            )

    def stop(self) -> None:
        """Disconnect cleanly; the broker keeps the session and queues until we return."""
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = self._subscribed = False

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("broker %s refused the connection: %s", self._where(), reason_code)
            return
        with self._lock:
            self._session += 1
            self._connected = True
            self._subscribed = False
            reconnect = self._session > 1
        log.info("connected to %s (session present: %s)", self._where(), flags.session_present)
        if reconnect and not flags.session_present:
            log.warning(
                "broker %s had no session for %r: messages published while we were away "
                "are lost unless FLEET_MQTT_SESSION_EXPIRY_S and the broker's "
                "persistent_client_expiration cover the outage",
                self._where(),
                self._settings.mqtt_client_id,
            )
        # Subscribe every time: the broker may have expired our session. Retain handling
        # 1 sends retained status only for a new subscription, not on every reconnect.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        topics = [
            (subscription(channel, share_group=self._settings.mqtt_share_group), options)
            for channel in INGESTED_CHANNELS
        ]
        client.subscribe(topics)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("broker %s refused our subscriptions: %s", self._where(), refused)
        self._subscribed = not refused

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected = self._subscribed = False
        if reason_code.is_failure:
            log.warning("disconnected from %s: %s; reconnecting", self._where(), reason_code)
        else:
            log.info("disconnected from %s", self._where())

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if self._deliver is None:  # pragma: no cover - start() sets it before connecting
            return
        self._deliver(
            Inbound(
                topic=message.topic,
                payload=bytes(message.payload),
                qos=message.qos,
                mid=message.mid,
                received_at=utc_now(),
                session=self._session,
            )
        )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # paho calls this before it marks the message published, so publish() finds it.
        # Nobody reads the answers to send(): keep only the latest ones.
        with self._lock:
            self._published[mid] = reason_code
            if len(self._published) > PUBLISHED_KEPT:
                del self._published[next(iter(self._published))]

    def _where(self) -> str:
        return f"{self._endpoint.host}:{self._endpoint.port}"


def renew_status_subscription(settings: Settings, *, timeout_s: float = 10.0) -> str | None:
    """Drop the status subscription from the fleet's session on the broker (the service
    stopped), so that the service's next subscription to it is new and the broker sends
    every exhibit's retained status (its birth, or its last will) again: a database
    restored from a backup learns what each exhibit runs now. None if done, else why not.

    What the session holds for the other channels stays; a message the broker hands this
    short connection is not acknowledged, so the broker keeps it for the service.
    """
    endpoint = settings.mqtt_endpoint()
    if endpoint is None:
        return "FLEET_MQTT_URL is not set"
    client = _new_client(settings, endpoint)
    answered = threading.Event()
    failed: list[str] = []

    def connected(
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            failed.append(f"the broker refused the connection: {reason_code}")
            answered.set()
            return
        client.unsubscribe(subscription(Channel.STATUS, share_group=settings.mqtt_share_group))

    def unsubscribed(
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # "No subscription existed" is as good: the next one is new either way.
        refused = [str(code) for code in reason_codes if code.is_failure and code.value != 17]
        if refused:
            failed.append(f"the broker refused to unsubscribe: {', '.join(refused)}")
        answered.set()

    client.on_connect = connected
    client.on_unsubscribe = unsubscribed
    try:
        client.connect(
            endpoint.host,
            endpoint.port,
            keepalive=settings.mqtt_keepalive_s,
            clean_start=False,
            properties=_session(settings, receive_maximum=1),
        )
    except (OSError, ValueError) as exc:
        return f"the broker {endpoint.host}:{endpoint.port} is not reachable: {exc}"
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return f"the broker {endpoint.host}:{endpoint.port} did not answer in {timeout_s:g}s"
    finally:
        client.disconnect()
        client.loop_stop()
    return failed[0] if failed else None


def _new_client(settings: Settings, endpoint: MqttEndpoint) -> mqtt.Client:
    """A paho client with the fleet's client id, credentials and TLS (no callbacks yet)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=settings.mqtt_client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.enable_logger(logging.getLogger(f"{__name__}.paho"))
    if settings.mqtt_username is not None:
        password = settings.mqtt_password
        client.username_pw_set(
            settings.mqtt_username.get_secret_value(),
            None if password is None else password.get_secret_value(),
        )
    if endpoint.tls:
        client.tls_set(**settings.mqtt_tls().tls_set_kwargs())
    return client


def _session(settings: Settings, *, receive_maximum: int) -> Properties:
    """CONNECT properties of the fleet's persistent session."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = settings.mqtt_session_expiry_s
    properties.ReceiveMaximum = receive_maximum
    return properties
