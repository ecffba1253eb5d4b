"""Both brokers we ship, against a real paho client: QoS 1, retained, last will."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.embedded import EmbeddedBroker, rumqttd_config
from broker.errors import BrokerStartError
from broker.mosquitto import MosquittoProcess


class Collector:
    def __init__(self) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.event = threading.Event()

    def __call__(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.messages.append(msg)
        self.event.set()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[mqtt.MQTTMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages


def client(port: int, client_id: str, *, will: tuple[str, bytes] | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if will:
        c.will_set(will[0], will[1], qos=1, retain=True)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def exercise(port: int) -> None:
    sink = Collector()
    sub = client(port, "sub")
    sub.on_message = sink
    sub.subscribe("t/#", qos=1)[0]
    time.sleep(0.2)
    dying = client(port, "dying", will=("t/will", b"gone"))
    pub = client(port, "pub")
    pub.publish("t/retained", b"kept", qos=1, retain=True).wait_for_publish(5)
    infos = [pub.publish("t/n", str(i).encode(), qos=1) for i in range(300)]
    for info in infos:
        info.wait_for_publish(5)
        assert info.is_published()
    dying.socket().close()  # an unclean disconnect fires the last will
    got = sink.wait_for(302)
    assert sorted(int(m.payload) for m in got if m.topic == "t/n") == list(range(300))
    assert any(m.topic == "t/will" and m.payload == b"gone" for m in got)

    late = Collector()
    latecomer = client(port, "late")
    latecomer.on_message = late
    latecomer.subscribe("t/retained", qos=1)
    retained = late.wait_for(1)
    assert [(m.payload, m.retain) for m in retained] == [(b"kept", True)]
    for c in (sub, pub, latecomer, dying):
        c.loop_stop()
        c.disconnect()


def test_mosquitto_with_project_config(mosquitto: MosquittoProcess) -> None:
    exercise(mosquitto.port)


def test_embedded_broker(embedded_broker: EmbeddedBroker) -> None:
    exercise(embedded_broker.port)


def test_embedded_broker_refuses_non_loopback() -> None:
    with pytest.raises(BrokerStartError, match=r"only binds 127\.0\.0\.1"):
        rumqttd_config(1883, host="0.0.0.0")
