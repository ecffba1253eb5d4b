"""Helpers of the bad-input tests: a fleet on a broker that lets big messages through, raw
MQTT publishing, and payload builders."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from simulator.databases import Backend, run_database
from simulator.fleet_client import FleetClient
from simulator.fleet_process import FleetApiProcess

TOKEN = "fleet_reliability-admin-token-0123456789abcdefghij"
GOOD = "good-1"
OTHER = "good-2"
# The project's brokers refuse payloads over 256 KiB themselves (the publisher is
# disconnected); this one lets them through so the fleet's own check is what is tested.
RELAXED = "allow_anonymous true\nmessage_size_limit 1048576\n"


def eventually(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.05)


class Publisher:
    """A raw MQTT v5 client: publishes exactly the bytes given, QoS 1, waits for PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish and wait until the broker acknowledged."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), f"the broker did not acknowledge {topic}"

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Fleet:
    """A running fleet API with its broker, an HTTP client and a raw publisher."""

    api: FleetApiProcess
    client: FleetClient
    publisher: Publisher
    next_seq: int = 1

    def get(self, path: str, **params: Any) -> httpx.Response:
        """An authorised GET."""
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.get(f"{self.api.url}{path}", params=params, headers=headers, timeout=10)

    def stats(self) -> dict[str, Any]:
        """``/ingest/stats``."""
        return self.client.ingest_stats()

    def unassigned(self, exhibit_id: str = GOOD) -> int:
        """Interactions of ``exhibit_id`` counted in no visit."""
        return self.client.exhibit_totals().get(exhibit_id, (0, 0))[1]

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (Prometheus text), 0 if absent."""
        text = self.get("/metrics").text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$"
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def good_batch(self, count: int, **record: Any) -> bytes:
        """A valid batch of good-1 with one count record of ``count`` and the next seq."""
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        return batch(GOOD, {"seq": seq, "count": count, **record})


def record(**fields: Any) -> dict[str, Any]:
    """A valid count record; ``fields`` override."""
    return {
        "type": "count",
        "seq": 1,
        "input": "button",
        "start": "2026-03-02T09:00:00+00:00",
        "mono_start": 100.0,
        "seconds": 60.0,
        "count": 1,
        "boot_id": "reliability-boot-1",
        "clock_synced": True,
        **fields,
    }


def batch(exhibit_id: str, *records: dict[str, Any], **fields: Any) -> bytes:
    """A CountBatch payload (``fields`` override the envelope)."""
    body = {
        "schema_version": 1,
        "exhibit_id": exhibit_id,
        "sent_at": datetime.now(UTC).isoformat(),
        "records": [record(**r) for r in records],
        **fields,
    }
    return json.dumps(body).encode()


def counts_topic(exhibit_id: str = GOOD) -> str:
    """Where an exhibit's batches go."""
    return exhibit_topic(exhibit_id, Channel.COUNTS)


@contextmanager
def running_fleet(
    backend: Backend, work_dir: Path, *, settings: dict[str, str] | None = None
) -> Iterator[Fleet]:
    """Mosquitto (relaxed size limit), the fleet API on ``backend``, good-1 and good-2 known;
    ``settings``: more FLEET_* settings of the API."""
    with (
        MosquittoProcess(work_dir / "mosquitto", extra_config=RELAXED) as broker,
        run_database(backend, work_dir) as database_url,
    ):
        api = FleetApiProcess(
            database_url=database_url,
            mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
            token=TOKEN,
            log_path=work_dir / "fleet-api.log",
            extra_env=settings,
        ).start()
        client = FleetClient(api.url, token=TOKEN)
        publisher = Publisher(broker.port)
        try:
            for exhibit_id in (GOOD, OTHER):
                client.ensure_exhibit(exhibit_id, exhibit_id)
            yield Fleet(api, client, publisher)
        finally:
            publisher.close()
            client.close()
            api.stop()
