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
