"""The baseline's receiving end: a plain paho subscriber in its own process.

``python -m bench.subscriber PORT EXPECTED``: prints ``ready``, then, once EXPECTED
messages arrived, the wall time of the last one.
"""

from __future__ import annotations

import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker.topics import Channel, subscription


def main() -> None:
    """Subscribe, count, report."""
    port, expected = int(sys.argv[1]), int(sys.argv[2])
    received = 0
    done = threading.Event()
    subscribed = threading.Event()
    last = 0.0

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received, last
        received += 1
        if received >= expected:
            last = time.time()
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sub", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(subscription(Channel.COUNTS), qos=1)
    client.loop_start()
    subscribed.wait(10)
    print("ready", flush=True)
    done.wait(600)
    print(f"{last!r} {received}", flush=True)
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
