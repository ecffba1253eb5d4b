"""Assignment and commands from the fleet, retained, through the real Mosquitto."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment, Command, CommandDone, CountRecord, SelfTestResult
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker
from tests.device.fakes import eventually
from tests.device.subscriber import Subscriber

ROOT = Path(__file__).parents[2]
EXHIBIT = "exhibit-001"
TOPICS = {channel: exhibit_topic(EXHIBIT, channel) for channel in Channel}


@pytest.fixture
def fleet(mosquitto: MosquittoProcess) -> Iterator[Subscriber]:
    """The fleet's side: reads what the exhibit sends, publishes what it is told."""
    client = Subscriber(
        mosquitto.port,
        [TOPICS[Channel.COUNTS], TOPICS[Channel.SELFTEST]],
        client_id="fleet",
        confirm=True,
    )
    yield client
    client.close()


def agent_for(
    mosquitto: MosquittoProcess, make_settings: SettingsMaker, factory: MockFactory
) -> Agent:
    settings = make_settings(
        broker_url=f"mqtt://127.0.0.1:{mosquitto.port}",
        inputs=[
            {"name": "button", "kind": "button", "pin": 17, "debounce_s": 0},
            {"name": "door", "kind": "beam", "pin": 6, "debounce_s": 0},
        ],
        indicator={"pin": 27},
        reconnect_max_s=0.5,
    )
    return Agent(settings, pin_factory=factory)


def test_retained_assignment_and_commands_reach_the_agent_and_run_once(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    now = datetime.now(UTC)
    assignment = Assignment(exhibit_id=EXHIBIT, visit_id=314, issued_at=now)
    fleet.publish(TOPICS[Channel.ASSIGNMENT], assignment.to_payload(), retain=True)
    self_test = Command(  # forced: the technician tests it while it is checked out
        exhibit_id=EXHIBIT,
        command_id="check-7",
        action="self_test",
        seconds=1.5,
        issued_at=now,
        expires_at=now + timedelta(minutes=10),
        force=True,
    )
    fleet.publish(TOPICS[Channel.COMMAND], self_test.to_payload(), retain=True, expiry_s=600)

    with agent_for(mosquitto, make_settings, factory) as agent:
        eventually(lambda: agent.self_testing, timeout=10, what="the retained self-test")
        assert agent.visit_id == 314
        factory.pin(17).drive_low()  # the technician presses the button, the door stays shut
        factory.pin(17).drive_high()
        assert fleet.wait_for(lambda: bool(fleet.received("/selftest")))
        identify = Command(
            exhibit_id=EXHIBIT, command_id="find-me", action="identify", seconds=1, issued_at=now
        )
        fleet.publish(TOPICS[Channel.COMMAND], identify.to_payload(), retain=True)
        eventually(lambda: factory.pin(27).state is True, what="the LED blinking")
        factory.pin(6).drive_low()  # a visitor walks through the door, after the test
        factory.pin(6).drive_high()
        assert agent.flush(10)

    message = fleet.received("/selftest")[-1]
    result = SelfTestResult.model_validate_json(message.payload)
    assert (result.command_id, result.seen, result.passed) == (
        "check-7",
        {"button": True, "door": False},
        False,
    )
    assert fleet.wait_for(lambda: fleet.counted() == {"door": 1})
    counts = [r for r in fleet.records() if isinstance(r, CountRecord)]
    assert {r.visit_id for r in counts} == {314}

    # A restart gets both retained messages again; neither command runs a second time.
    late = Subscriber(mosquitto.port, [TOPICS[Channel.SELFTEST]], client_id="late")
    try:
        assert late.wait_for(lambda: bool(late.received("/selftest")))
        assert late.received("/selftest")[0].retain  # the result stays for whoever looks
    finally:
        late.close()
    with agent_for(mosquitto, make_settings, factory) as again:
        barrier = Assignment(exhibit_id=EXHIBIT, visit_id=315, issued_at=datetime.now(UTC))
        assert again.wait_connected(10)
        fleet.publish(TOPICS[Channel.ASSIGNMENT], barrier.to_payload(), retain=True)
        # Retained messages arrive before a later live one on the same connection.
        eventually(lambda: again.visit_id == 315, timeout=10, what="the live assignment")
        assert not again.self_testing
        blinks = len(factory.pin(27).states)
        assert again.wait_recorded(5)
        assert len(factory.pin(27).states) == blinks
    assert len(fleet.received("/selftest")) == 1


def test_self_test_without_a_running_service_runs_here_and_publishes(
    mosquitto: MosquittoProcess, tmp_path: Path, fleet: Subscriber
) -> None:
    env = {
        **os.environ,
        "GPIOZERO_PIN_FACTORY": "mock",
        "EXHIBIT_EXHIBIT_ID": EXHIBIT,
        "EXHIBIT_BROKER_URL": f"mqtt://127.0.0.1:{mosquitto.port}",
        "EXHIBIT_DATA_DIR": str(tmp_path / "pi"),
        "EXHIBIT_INPUTS": '[{"name": "button", "kind": "button", "pin": 17}]',
    }
    # Nobody presses anything: the one input is not seen, the exit code says so.
    done = subprocess.run(
        [sys.executable, "-m", "device.runtime.cli", "self-test", "--seconds", "0.5"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(": FAILED")
    assert lines[1:] == ["  button  NOT SEEN"]
    assert "trigger every input within 0.5s: button" in done.stderr
    assert fleet.wait_for(lambda: bool(fleet.received("/selftest")))
    result = SelfTestResult.model_validate_json(fleet.received("/selftest")[-1].payload)
    assert (result.seen, result.passed) == ({"button": False}, False)


def test_the_broker_judges_a_commands_age_when_the_exhibits_clock_cannot(
    mosquitto: MosquittoProcess, make_settings: SettingsMaker, factory: MockFactory
) -> None:
    """MQTT v5 Message Expiry through the real Mosquitto and the agent's paho link.

    A forced self-test at a school, on a clock that never synced: the agent can only run
    it because the broker says it is fresh (the time left arrives with the message); one
    whose expiry ran out while the exhibit was off never arrives at all.
    """
    fleet = Subscriber(mosquitto.port, [TOPICS[Channel.DONE]], client_id="fleet")
    try:
        now = datetime.now(UTC)
        assignment = Assignment(exhibit_id=EXHIBIT, visit_id=88, issued_at=now)
        fleet.publish(TOPICS[Channel.ASSIGNMENT], assignment.to_payload(), retain=True)
        stale = Command(
            exhibit_id=EXHIBIT,
            command_id="stale",
            action="self_test",
            seconds=5,
            issued_at=now,
            force=True,
        )
        fleet.publish(TOPICS[Channel.COMMAND], stale.to_payload(), retain=True, expiry_s=1)
        time.sleep(2.5)  # the exhibit is still off: the broker's clock lets it expire
        clock = FakeClock(wall=now - timedelta(days=40), synced=False)  # fake-hwclock
        settings = make_settings(
            broker_url=f"mqtt://127.0.0.1:{mosquitto.port}", reconnect_max_s=0.5
        )
        with Agent(settings, pin_factory=factory, clock=clock) as agent:
            assert agent.wait_connected(10)
            eventually(lambda: agent.visit_id == 88, timeout=10, what="the assignment")
            assert agent.wait_recorded(5)
            assert not agent.self_testing
            fresh = stale.model_copy(update={"command_id": "fresh"})
            fleet.publish(TOPICS[Channel.COMMAND], fresh.to_payload(), retain=True, expiry_s=600)
            eventually(lambda: agent.self_testing, timeout=10, what="the fresh self-test")
            assert fleet.wait_for(lambda: bool(fleet.received("/done")))
        (message,) = fleet.received("/done")
        report = CommandDone.model_validate_json(message.payload)
        assert (report.command_id, report.outcome, report.visit_id) == ("fresh", "ran", 88)
        assert report.clock_synced is False
    finally:
        fleet.close()
