"""An exhibit host process against the real Mosquitto: kill -9 loses nothing committed, a
reboot with the clock a day behind says so, and a cloned card exits 3 publishing nothing."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import MosquittoProcess
from broker.topics import ROOT, Channel, subscription
from device.ops.identity import IDENTITY_FILE
from simulator.host_protocol import EXIT_IDENTITY, ExhibitBoot, HostConfig, epoch
from simulator.hosts import ExhibitHost
from simulator.scenario import InputDef
from tests.device.subscriber import Subscriber

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 3, 9, tzinfo=UTC)


class Watcher:
    """Every message under the fleet's root, parsed."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{ROOT}/#", qos=1)
        self.client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload:
            with self.lock:
                self.messages.append((msg.topic, json.loads(msg.payload)))

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            found = [m for topic, m in self.messages if topic.endswith("/counts")]
        return [r for batch in found for r in batch["records"]]


@pytest.fixture
def watcher(mosquitto: MosquittoProcess) -> Iterator[Watcher]:
    watching = Watcher(mosquitto.port)
    # The fleet's end of custody: confirms what arrives, so the hosts' flush can finish.
    fleet = Subscriber(mosquitto.port, [subscription(Channel.COUNTS)], confirm=True)
    yield watching
    fleet.close()
    watching.client.loop_stop()


def boot(
    tmp_path: Path, port: int, n: int, *, behind: float = 0, machine: str = "pi"
) -> ExhibitBoot:
    (tmp_path / machine).mkdir(exist_ok=True)
    (tmp_path / machine / "machine-id").write_text(f"{machine}-id\n")
    return ExhibitBoot(
        exhibit_id="pc-1",
        data_dir=tmp_path / ("agent" if machine == "pi" else f"agent-{machine}"),
        machine_dir=tmp_path / machine,
        broker_url=f"mqtt://127.0.0.1:{port}",
        inputs=[InputDef(name="button", kind="button")],
        bucket_seconds=60,
        session_idle_s=30,
        heartbeat_seconds=300,
        boot_id=f"pc-1-{machine}-{n}",
        true_now=T0 + timedelta(hours=n),
        skew_s=-behind,
        synced=not behind,
    )


def host(tmp_path: Path, exhibit: ExhibitBoot) -> ExhibitHost:
    started = ExhibitHost(exhibit.boot_id, HostConfig(exhibits=[exhibit]), tmp_path / "hosts")
    assert started.start()["event"] == "ready"
    return started


def presses(start: datetime, count: int) -> list[list[object]]:
    return [["pc-1", epoch(start + timedelta(seconds=2 * i)), "button"] for i in range(count)]


def test_a_power_cut_loses_nothing_committed_and_counts_in_flight_presses_once_at_most(
    mosquitto: MosquittoProcess, watcher: Watcher, tmp_path: Path
) -> None:
    first = host(tmp_path, boot(tmp_path, mosquitto.port, 0))
    try:
        steps = presses(T0, 20)
        first.request({"op": "run", "steps": steps, "until": epoch(T0 + timedelta(minutes=5))}, 30)
        in_flight = presses(T0 + timedelta(minutes=5), 2)
        first.request(
            {"op": "run", "steps": in_flight, "until": in_flight[-1][1], "nowait": True}, 30
        )
    finally:
        first.kill()
    assert first.process is not None
    assert first.process.returncode == -9, "killed, not stopped"

    second = host(tmp_path, boot(tmp_path, mosquitto.port, 1, behind=86_400))
    try:
        later = T0 + timedelta(hours=1)
        second.request({"op": "run", "steps": presses(later, 5), "until": epoch(later)}, 30)
        assert second.request({"op": "flush"}, 30)["depth"] == {"pc-1": 0}
    finally:
        second.stop()

    # Custody: what the fleet had not confirmed before the kill is sent again after the
    # restart, so a seq may arrive twice on the wire; it must be the same record each time.
    by_seq: dict[int, dict[str, Any]] = {}
    for record in watcher.records():
        first_seen = by_seq.setdefault(int(record["seq"]), record)
        assert first_seen == record, "a seq sent again carries the same record"
    seqs = sorted(by_seq)
    assert seqs == list(range(1, len(seqs) + 1)), "gap-free"
    records = [r for r in by_seq.values() if r["type"] == "count"]
    counted = sum(int(r["count"]) for r in records)
    assert 25 <= counted <= 27
    after = [r for r in records if r["boot_id"] == "pc-1-pi-1"]
    assert sum(int(r["count"]) for r in after) == 5
    for record in after:
        assert record["clock_synced"] is False
        start = datetime.fromisoformat(str(record["start"]))
        assert start.date() == (T0 - timedelta(days=1)).date(), "the clock is a day behind"


def test_a_cloned_card_exits_3_and_publishes_nothing(
    mosquitto: MosquittoProcess, watcher: Watcher, tmp_path: Path
) -> None:
    original = host(tmp_path, boot(tmp_path, mosquitto.port, 0))
    try:
        clone_boot = boot(tmp_path, mosquitto.port, 1, machine="clone")
        clone_boot.data_dir.mkdir(parents=True)
        shutil.copy2(tmp_path / "agent" / IDENTITY_FILE, clone_boot.data_dir / IDENTITY_FILE)
        clone = ExhibitHost("clone", HostConfig(exhibits=[clone_boot]), tmp_path / "hosts")
        first = clone.start()
        assert first["event"] == "identity_mismatch"
        assert "cloned SD card" in str(first["detail"])
        assert clone.wait_exit(30) == EXIT_IDENTITY
        clone.stop()
        original.request({"op": "run", "steps": presses(T0, 3), "until": epoch(T0)}, 30)
        original.request({"op": "flush"}, 30)
    finally:
        original.stop()
    assert sum(int(r["count"]) for r in watcher.records() if r["type"] == "count") == 3
    with watcher.lock:
        assert not [m for _topic, m in watcher.messages if "pc-1-clone" in json.dumps(m)]


def test_bouncing_gestures_count_what_the_visitor_did(
    mosquitto: MosquittoProcess, watcher: Watcher, tmp_path: Path
) -> None:
    """Every kind the simulator drives, with the default signal model's bounce and re-triggers."""
    inputs = [
        InputDef(name="button", kind="button"),
        InputDef(name="beam", kind="beam"),
        InputDef(name="dial", kind="rotary"),
        InputDef(name="pir", kind="motion"),
    ]
    exhibit = boot(tmp_path, mosquitto.port, 0).model_copy(update={"inputs": inputs})
    names = ["button", "beam", "dial_cw", "dial_ccw", "pir"]
    # 30 s apart: longer than any gesture (a PIR presence) and its release debounce.
    steps = [["pc-1", epoch(T0 + timedelta(seconds=30 * i)), names[i % 5]] for i in range(40)]
    running = host(tmp_path, exhibit)
    try:
        until = epoch(T0 + timedelta(minutes=30))
        assert running.request({"op": "run", "steps": steps, "until": until}, 60)["ok"]
        assert running.request({"op": "flush"}, 30)["depth"] == {"pc-1": 0}
    finally:
        running.stop()
    counted: dict[str, int] = {}
    # Records not yet confirmed may be sent again (custody): the fleet keeps one per seq.
    once = {record["seq"]: record for record in watcher.records()}
    for record in once.values():
        if record["type"] == "count":
            counted[record["input"]] = counted.get(record["input"], 0) + int(record["count"])
    assert counted == dict.fromkeys(names, 8)
