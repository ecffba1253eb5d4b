"""The paho source without a broker: what it subscribes to and when an ack is sent."""

from __future__ import annotations

from typing import Any

import pytest
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from fleet_api.inbound import Inbound
from fleet_api.mqtt_source import MqttSource
from fleet_api.settings import Settings

OK = ReasonCode(PacketTypes.CONNACK, "Success")
GRANTED = ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")


class RecordingClient:
    """Stands in for paho's client: records subscribe and ack calls."""

    def __init__(self) -> None:
        self.subscribed: list[Any] = []
        self.acked: list[tuple[int, int]] = []

    def subscribe(self, topics: Any) -> None:
        self.subscribed.append(topics)

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append((mid, qos))


def source_with(client: RecordingClient, **settings: Any) -> MqttSource:
    source = MqttSource(Settings(mqtt_url="mqtt://127.0.0.1:1883", **settings))
    source._client = client  # type: ignore[assignment]
    return source


def connect(source: MqttSource, client: RecordingClient) -> None:
    source._on_connect(client, None, ConnectFlags(session_present=True), OK, None)  # type: ignore[arg-type]
    source._on_subscribe(client, None, 1, [GRANTED] * 3, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("share_group", "prefix"), [(None, ""), ("ingest", "$share/ingest/")])
def test_every_connect_subscribes_qos1_to_every_ingested_channel(
    share_group: str | None, prefix: str
) -> None:
    client = RecordingClient()
    source = source_with(client, mqtt_share_group=share_group)
    assert not source.connected
    connect(source, client)
    connect(source, client)  # the broker may have dropped the session: subscribe again
    assert source.connected
    assert len(client.subscribed) == 2
    topics = [
        (topic, options.QoS, options.retainHandling) for topic, options in client.subscribed[0]
    ]
    assert topics == [
        (f"{prefix}fleet/v1/exhibits/+/{channel}", 1, 1)
        for channel in ("counts", "status", "heartbeat", "selftest", "done", "configured")
    ]


def test_an_ack_goes_out_only_for_qos1_on_the_connection_that_delivered_it() -> None:
    client = RecordingClient()
    source = source_with(client)
    connect(source, client)
    first_session = Inbound("t", b"", qos=1, mid=7, session=1)
    source.ack(first_session)
    source.ack(Inbound("t", b"", qos=0, mid=0, session=1))
    assert client.acked == [(7, 1)]

    source._on_disconnect(
        client,
        None,
        DisconnectFlags(False),
        ReasonCode(PacketTypes.DISCONNECT, "Unspecified error"),
        None,
    )  # type: ignore[arg-type]
    assert not source.connected
    source.ack(first_session)  # no connection: the broker will redeliver it
    connect(source, client)
    source.ack(first_session)  # an old connection's packet id means nothing on this one
    source.ack(Inbound("t", b"", qos=1, mid=7, session=2))
    assert client.acked == [(7, 1), (7, 1)]


def test_a_refused_subscription_leaves_the_source_not_ready() -> None:
    client = RecordingClient()
    source = source_with(client)
    source._on_connect(client, None, ConnectFlags(session_present=False), OK, None)  # type: ignore[arg-type]
    refused = ReasonCode(PacketTypes.SUBACK, "Not authorized")
    source._on_subscribe(client, None, 1, [GRANTED, refused, GRANTED], None)  # type: ignore[arg-type]
    assert not source.connected
