"""The partition proxy against the real Mosquitto and a real agent: cut, last will, heal."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.messages import Status
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from simulator.exhibits import SimulatedExhibit
from simulator.netfault import PartitionProxy
from tests.device.subscriber import Subscriber


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.integration
def test_cut_fires_the_last_will_and_counts_survive_the_partition(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    statuses: list[Status] = []
    counted: list[int] = []
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            if msg.topic.endswith("/status"):
                statuses.append(Status.model_validate_json(msg.payload))
            else:
                records = json.loads(msg.payload)["records"]
                counted.extend(r["count"] for r in records if r["type"] == "count")

    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = on_message
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe(
        [
            (exhibit_topic("sim-001", Channel.STATUS), 1),
            (exhibit_topic("sim-001", Channel.COUNTS), 1),
        ]
    )
    watcher.loop_start()
    # The fleet's end of custody: confirms what arrives, so the agent can empty its outbox.
    fleet = Subscriber(mosquitto.port, [exhibit_topic("sim-001", Channel.COUNTS)], confirm=True)

    with PartitionProxy("127.0.0.1", mosquitto.port) as proxy:
        exhibit = SimulatedExhibit(
            "sim-001", broker_url=proxy.url, data_dir=tmp_path, bucket_seconds=0.2
        )
        exhibit.start()
        try:
            assert wait_until(lambda: any(s.online for s in statuses))
            proxy.cut()
            assert proxy.is_cut
            assert proxy.connections_cut >= 1
            # Mosquitto notices the dead connection only by keepalive or a failed write;
            # the proxy aborts both sides, so the broker sees EOF at once and sends the will.
            assert wait_until(lambda: statuses and not statuses[-1].online)
            for _ in range(5):
                exhibit.touch("button")  # a bouncing press; it returns once it has settled
            time.sleep(0.5)
            with lock:
                assert sum(counted) == 0, "nothing gets through a cut link"
            proxy.restore()
            assert exhibit.flush(30)
            assert wait_until(lambda: sum(counted) == 5)
            assert statuses[-1].online
        finally:
            exhibit.stop()
    fleet.close()
    watcher.loop_stop()
    watcher.disconnect()


class _Device:
    """A paho client through the proxy with a last will, recording its connects and drops."""

    def __init__(self, port: int, keepalive: int) -> None:
        self.connects = 0
        self.drops: list[float] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="hole-device", protocol=mqtt.MQTTv5
        )
        self.client.will_set("hole/status", b"offline", qos=1)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._dropped
        self.client.connect("127.0.0.1", port, keepalive=keepalive)
        self.client.loop_start()

    def _connected(self, *args: object) -> None:
        self.connects += 1

    def _dropped(self, *args: object) -> None:
        self.drops.append(time.monotonic())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _watch(port: int) -> tuple[mqtt.Client, list[bytes]]:
    seen: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.on_message = lambda client, userdata, msg: seen.append(msg.payload)
    watcher.connect("127.0.0.1", port)
    watcher.subscribe("hole/#", qos=1)
    watcher.loop_start()
    return watcher, seen


@pytest.mark.integration
def test_a_short_black_hole_holds_traffic_and_keeps_the_connection(
    mosquitto: MosquittoProcess,
) -> None:
    watcher, seen = _watch(mosquitto.port)
    with PartitionProxy("127.0.0.1", mosquitto.port) as proxy:
        device = _Device(proxy.port, keepalive=30)
        try:
            assert wait_until(lambda: device.connects == 1)
            proxy.black_hole()
            assert proxy.is_cut
            device.client.publish("hole/data", b"sent into the hole", qos=1)
            time.sleep(1.0)
            assert seen == [], "nothing crosses a black hole"
            assert device.drops == [], "and neither end notices it"
            proxy.restore()
            assert wait_until(lambda: seen == [b"sent into the hole"])
            assert (device.connects, device.drops, proxy.connections_cut) == (1, [], 0)
        finally:
            device.close()
    watcher.loop_stop()
    watcher.disconnect()


@pytest.mark.integration
def test_only_keepalive_finds_a_black_hole(mosquitto: MosquittoProcess) -> None:
    keepalive = 5
    watcher, seen = _watch(mosquitto.port)
    with PartitionProxy("127.0.0.1", mosquitto.port) as proxy:
        device = _Device(proxy.port, keepalive=keepalive)
        try:
            assert wait_until(lambda: device.connects == 1)
            holed_at = time.monotonic()
            proxy.black_hole()
            # The broker hears nothing for 1.5 keepalives and sends the will; the device
            # misses its PINGRESP and drops its socket. Neither happens at once.
            assert wait_until(lambda: b"offline" in seen, timeout=4 * keepalive)
            assert time.monotonic() - holed_at >= keepalive
            assert wait_until(lambda: device.drops, timeout=4 * keepalive)
            assert device.drops[0] - holed_at >= keepalive / 2
            assert proxy.connections_cut == 0, "the proxy closed nothing itself"
            assert device.connects == 1, "no reconnect gets through the hole"
            assert wait_until(lambda: proxy.closed_in_black_hole >= 1)  # the device's close
            proxy.restore()
            assert wait_until(lambda: device.connects >= 2, timeout=15)
        finally:
            device.close()
    watcher.loop_stop()
    watcher.disconnect()
