"""MqttSource.publish without a broker: QoS 1, retained, and every way it can fail."""

from __future__ import annotations

import re
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import ConnectFlags
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from fleet_api.errors import BrokerUnavailable
from fleet_api.mqtt_source import MqttSource
from fleet_api.settings import Settings

OK = ReasonCode(PacketTypes.CONNACK, "Success")
GRANTED = ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")


class PublishingClient:
    """Stands in for paho's client: acks (or not) what is published, as told."""

    def __init__(self, source: MqttSource, outcome: str) -> None:
        self.source = source
        self.outcome = outcome
        self.published: list[tuple[str, bytes, int, bool]] = []

    def subscribe(self, topics: Any) -> None:
        pass

    def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, properties: Any = None
    ) -> mqtt.MQTTMessageInfo:
        self.published.append((topic, payload, qos, retain))
        info = mqtt.MQTTMessageInfo(len(self.published))
        if self.outcome == "queue_full":
            info.rc = mqtt.MQTT_ERR_QUEUE_SIZE
            return info
        if self.outcome in ("acked", "refused"):
            name = "Success" if self.outcome == "acked" else "Not authorized"
            reason = ReasonCode(PacketTypes.PUBACK, name)
            self.source._on_publish(self, None, info.mid, reason, None)  # type: ignore[arg-type]
            info._set_as_published()
        return info


def connected_source(outcome: str) -> tuple[MqttSource, PublishingClient]:
    source = MqttSource(Settings(mqtt_url="mqtt://127.0.0.1:1883"))
    client = PublishingClient(source, outcome)
    source._client = client  # type: ignore[assignment]
    source._on_connect(client, None, ConnectFlags(session_present=True), OK, None)  # type: ignore[arg-type]
    source._on_subscribe(client, None, 1, [GRANTED] * 4, None)  # type: ignore[arg-type]
    return source, client


def test_a_publication_is_qos1_and_waits_for_its_puback() -> None:
    source, client = connected_source("acked")
    source.publish("fleet/v1/exhibits/x/assignment", b"{}", retain=True, timeout_s=1)
    assert client.published == [("fleet/v1/exhibits/x/assignment", b"{}", 1, True)]
    assert source._published == {}


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("refused", "refused 'fleet/v1/exhibits/x/command': Not authorized"),
        ("silent", "did not acknowledge 'fleet/v1/exhibits/x/command' within 0.01s"),
        ("queue_full", "publishing to 'fleet/v1/exhibits/x/command' failed"),
    ],
)
def test_a_refused_or_unacknowledged_publication_is_broker_unavailable(
    outcome: str, message: str
) -> None:
    source, _ = connected_source(outcome)
    with pytest.raises(BrokerUnavailable, match=re.escape(message)):
        source.publish("fleet/v1/exhibits/x/command", b"{}", retain=True, timeout_s=0.01)


def test_nothing_is_queued_while_disconnected() -> None:
    source = MqttSource(Settings(mqtt_url="mqtt://127.0.0.1:1883"))
    client = PublishingClient(source, "acked")
    source._client = client  # type: ignore[assignment]
    with pytest.raises(
        BrokerUnavailable, match=re.escape("not connected to the MQTT broker 127.0.0.1:1883")
    ):
        source.publish("t", b"{}", retain=True, timeout_s=1)
    assert client.published == []
