"""Custody of a real agent's counts through real Mosquitto: nothing is lost or counted twice
through a network drop, a broker that is away at the start, or a kill -9 and a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment, utc_now
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.link.mqtt import MqttLink
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker, broker_settings, presence, press, subscribe
from tests.device.subscriber import Subscriber

ROOT = Path(__file__).parents[2]


COUNTS = exhibit_topic("exhibit-001", Channel.COUNTS)


STATUS = exhibit_topic("exhibit-001", Channel.STATUS)


def test_network_drop_then_reconnect_loses_nothing(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    live = subscribe(subscribers, mosquitto.port, COUNTS, STATUS)
    with Agent(broker_settings(make_settings, mosquitto.port), pin_factory=factory) as agent:
        assert agent.wait_connected(10)
        press(factory, 3)
        assert agent.flush(10)
        link = agent.link
        assert isinstance(link, MqttLink)
        first_session = link.session
        link.sever()
        press(factory, 4)  # counted while the link is down or coming back
        assert live.wait_for(lambda: link.session not in (None, first_session))
        assert agent.flush(10)
        assert live.wait_for(lambda: live.counted() == {"button": 7})
        # Subscribed again on the new connection: the fleet still reaches the exhibit.
        assignment = Assignment(exhibit_id="exhibit-001", visit_id=12, issued_at=utc_now())
        live.publish(exhibit_topic("exhibit-001", Channel.ASSIGNMENT), assignment.to_payload())
        assert live.wait_for(lambda: agent.visit_id == 12)
    # stop() returns once the broker has the goodbye; this subscriber gets it a moment later.
    assert live.wait_for(
        lambda: any(s.at is not None and not s.online for s, _r in live.statuses())
    )
    onlines = [s.online for s, _r in live.statuses()]
    assert onlines[:4] == [True, False, True, False]  # birth, will, birth again, goodbye


def test_broker_down_at_start_then_everything_is_delivered(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    # The fleet's ingest is a persistent session: what arrives while it is away is queued.
    ingest = Subscriber(mosquitto.port, [COUNTS], client_id="ingest", persistent=True)
    ingest.close()
    mosquitto.stop()

    with Agent(
        broker_settings(make_settings, mosquitto.port, bucket_seconds=3600), pin_factory=factory
    ) as agent:
        press(factory, 5)
        presence(factory)
        assert not agent.flush(0.3)  # sealed and stored, but nobody to deliver to
        assert agent.outbox_depth() == 3  # two buckets and the session
        assert not agent.wait_connected(0)

        mosquitto.start()  # same port, same persistence directory
        assert agent.wait_connected(10)
        assert not agent.flush(0.5)  # the broker has them; the fleet has not confirmed them
        assert agent.outbox_depth() == 3

        back = subscribe(subscribers, mosquitto.port, client_id="ingest", persistent=True)
        assert agent.flush(15)  # the fleet is back: what it stored leaves the outbox
        assert agent.outbox_depth() == 0

    assert back.wait_for(lambda: back.counted() == {"button": 5, "motion": 1})
    assert back.wait_for(lambda: [s.interactions for s in back.sessions()] == [6])


@pytest.mark.parametrize("kill_after", [120, 270])
def test_kill_9_mid_run_then_restart_delivers_every_press_once_per_seq(
    mosquitto: MosquittoProcess, tmp_path: Path, subscribers: list[Subscriber], kill_after: int
) -> None:
    counts = exhibit_topic("exhibit-kill", Channel.COUNTS)
    status = exhibit_topic("exhibit-kill", Channel.STATUS)
    live = subscribe(subscribers, mosquitto.port, counts, status)
    data_dir = tmp_path / "kill-agent"
    argv = [sys.executable, "-m", "tests.device.agent_child", str(mosquitto.port), str(data_dir)]

    child = subprocess.Popen([*argv, "400"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    recorded = 0
    for line in child.stdout:
        if line.startswith("recorded"):
            recorded = int(line.split()[1])
            if recorded >= kill_after:
                break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    for line in child.stdout.read().splitlines():  # what it printed before it died
        if line.startswith("recorded"):
            recorded = int(line.split()[1])
    child.stdout.close()
    assert recorded >= kill_after
    assert live.wait_for(lambda: any(s.at is None for s, _r in live.statuses()))  # last will

    drain = subprocess.run([*argv, "0"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert drain.returncode == 0, drain.stdout + drain.stderr
    assert "flushed True" in drain.stdout

    by_seq: dict[int, set[str]] = {}
    for record in live.records():
        by_seq.setdefault(record.seq, set()).add(record.model_dump_json())
    assert sorted(by_seq) == list(range(1, max(by_seq) + 1)), "a seq is missing"
    assert all(len(bodies) == 1 for bodies in by_seq.values()), "a seq had two contents"
    total = live.counted()["button"]
    # Every press the child saw committed arrived; nothing beyond what it pressed.
    assert recorded <= total <= 400
