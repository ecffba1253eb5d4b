"""A raw MQTT client beside the fleet: it sees every exhibit message and can send them again.

The only simulator module that imports paho. It captures the exact bytes of every
message under ``fleet/v1/exhibits/`` (to re-publish count batches byte for byte: duplicate
delivery, which the fleet's idempotency must absorb), lets a check ask whether any
message mentioned a boot id (a cloned exhibit must publish nothing), and tells the
moment a backlog replay reaches the broker (to restart it right then). paho reconnects by
itself across a broker restart; the subscription is made again on every connection.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from broker.topics import ROOT, Channel, parse
from simulator.errors import FaultError

SUBSCRIPTION = f"{ROOT}/#"


@dataclass(frozen=True, slots=True)
class Captured:
    """One message as the broker delivered it to the tap."""

    topic: str
    payload: bytes


class MqttTap:
    """Capture every exhibit message; re-publish count batches on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._lock = threading.Condition()
        self._messages: list[Captured] = []
        self._counts = 0
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sim-tap-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 1)

    def start(self, timeout: float = 10.0) -> MqttTap:
        """Connect and wait for the subscription to be granted."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise FaultError(f"the MQTT tap could not subscribe within {timeout}s")
        return self

    def close(self) -> None:
        """Disconnect and stop paho's thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not reason.is_failure:
            client.subscribe(SUBSCRIPTION, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if reasons and not reasons[0].is_failure:
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._messages.append(Captured(message.topic, bytes(message.payload)))
            if message.topic.endswith(f"/{Channel.COUNTS.value}"):
                self._counts += 1
                self._lock.notify_all()

    # -- what was seen -----------------------------------------------------------------

    def batches(self, exhibit_id: str) -> list[Captured]:
        """Every count batch of ``exhibit_id`` captured so far, oldest first."""
        with self._lock:
            messages = list(self._messages)
        return [m for m in messages if _is_counts_of(m.topic, exhibit_id)]

    @property
    def count_batches(self) -> int:
        """Count batches (of any exhibit) seen so far."""
        with self._lock:
            return self._counts

    def wait_count_batches(self, more_than: int, timeout: float) -> bool:
        """Wait until more than ``more_than`` count batches have been seen."""
        with self._lock:
            return self._lock.wait_for(lambda: self._counts > more_than, timeout)

    def mentions(self, needle: str) -> int:
        """How many captured messages contain ``needle`` (e.g. a boot id)."""
        raw = needle.encode()
        with self._lock:
            return sum(1 for m in self._messages if raw in m.payload)

    # -- duplicate delivery ------------------------------------------------------------

    def republish(self, messages: list[Captured], timeout: float = 30.0) -> int:
        """Publish ``messages`` again, QoS 1, and wait for every PUBACK; how many went."""
        infos = [self._client.publish(m.topic, m.payload, qos=1) for m in messages]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise FaultError(f"a re-published batch was not acknowledged within {timeout}s")
        return len(infos)


def _is_counts_of(topic: str, exhibit_id: str) -> bool:
    try:
        where = parse(topic)
    except ValueError:
        return False
    return where.exhibit_id == exhibit_id and where.channel is Channel.COUNTS
