"""A paho subscriber for the integration tests: collects what the agents publish.

With ``confirm=True`` it also plays the fleet's end of custody: every count batch it
receives is confirmed stored with a ``Custody`` message, as the fleet's ingestion does
after its commit, so the agents under test can empty their outboxes. (The fleet's own
side is tested against the real API in tests/fleet_api and tests/e2e.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from broker.messages import CountBatch, CountRecord, SessionRecord, Status
from broker.topics import Channel, exhibit_topic
from tests.device.fakes import custody_for


class Subscriber:
    """Connects, subscribes with QoS 1 and keeps every message it receives."""

    def __init__(
        self,
        port: int,
        topics: list[str],
        *,
        client_id: str = "test-subscriber",
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
        confirm: bool = False,
    ) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.confirm = confirm
        self.stored: dict[str, set[int]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 3600
        self._client.connect("127.0.0.1", port, clean_start=not persistent, properties=properties)
        self._client.loop_start()
        if topics:
            self._client.subscribe([(topic, 1) for topic in topics])
            assert self._subscribed.wait(5), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)
        if self.confirm and msg.topic.endswith("/counts"):
            batch = CountBatch.model_validate_json(msg.payload)
            with self._lock:
                stored = self.stored.setdefault(batch.exhibit_id, set())
                stored.update(record.seq for record in batch.records)
                custody = custody_for(batch.exhibit_id, set(stored))
            topic = exhibit_topic(batch.exhibit_id, Channel.CUSTODY)
            client.publish(topic, custody.to_payload(), qos=1)

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def received(self, suffix: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def batches(self) -> list[CountBatch]:
        return [CountBatch.model_validate_json(m.payload) for m in self.received("/counts")]

    def records(self) -> list[CountRecord | SessionRecord]:
        return [record for batch in self.batches() for record in batch.records]

    def sessions(self) -> list[SessionRecord]:
        """Distinct session records, by seq."""
        by_seq = {r.seq: r for r in self.records() if isinstance(r, SessionRecord)}
        return [by_seq[seq] for seq in sorted(by_seq)]

    def statuses(self) -> list[tuple[Status, bool]]:
        return [(Status.model_validate_json(m.payload), m.retain) for m in self.received("/status")]

    def counted(self) -> dict[str, int]:
        """Interactions per input over distinct seqs (redeliveries counted once)."""
        by_seq = {record.seq: record for record in self.records()}
        totals: dict[str, int] = {}
        for record in by_seq.values():
            if isinstance(record, CountRecord):
                totals[record.input] = totals.get(record.input, 0) + record.count
        return totals

    def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, expiry_s: int | None = None
    ) -> None:
        """Publish at QoS 1 (as the fleet does) and wait until the broker has it.

        ``expiry_s``: an MQTT v5 Message Expiry Interval, as the fleet gives commands.
        """
        properties = None
        if expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        info.wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
