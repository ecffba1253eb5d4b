"""Configuration pushed from the fleet, in the real agent on mock pins, through real Mosquitto.

The test plays the fleet: it publishes the retained ``config`` (and the visit assignment)
as the fleet's service does and reads the exhibit's ``configured`` reports and births.
After an ``applied`` the agent asks to be rebuilt; ``rebuilt()`` does what ``exhibit-agent
run`` does then (a new Agent on the settings loaded again, the fleet's document laid over
them by ``device.settings.pushed``); the last test runs ``exhibit-agent run`` itself.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from broker.exhibit_config import config_hash, describe, problems
from broker.messages import Assignment, ConfigReport, Status, utc_now
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from device.settings.pushed import Pushed, pushed_path, with_pushed, write_pushed
from tests.device.conftest import (
    INSTANT_INPUTS,
    SettingsMaker,
    agent_run,
    broker_settings,
    press,
    started,
)
from tests.device.subscriber import Subscriber

EXHIBIT = "exhibit-001"
WITH_LAMP: dict[str, Any] = {
    "inputs": INSTANT_INPUTS,
    "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
    ],
}


@pytest.fixture
def fleet(mosquitto: MosquittoProcess) -> Iterator[Subscriber]:
    """The fleet's end: reads reports and statuses, publishes configurations retained."""
    channels = (Channel.CONFIGURED, Channel.STATUS, Channel.COUNTS)
    topics = [exhibit_topic(EXHIBIT, c) for c in channels]
    subscriber = Subscriber(mosquitto.port, topics, client_id="fleet", confirm=True)
    yield subscriber
    subscriber.close()


def push(fleet: Subscriber, version: int, document: dict[str, Any], *, force: bool = False) -> None:
    """Publish ``document`` retained, as ``PUT /exhibits/{id}/config`` does."""
    message = {
        "schema_version": 1,
        "exhibit_id": EXHIBIT,
        "version": version,
        "config_hash": config_hash(document),
        "config": document,
        "issued_at": utc_now().isoformat(),
    }
    if force:
        message["force"] = True
    fleet.publish(exhibit_topic(EXHIBIT, Channel.CONFIG), json.dumps(message).encode(), retain=True)


def assign(fleet: Subscriber, visit_id: int | None) -> None:
    assignment = Assignment(exhibit_id=EXHIBIT, visit_id=visit_id, issued_at=utc_now())
    topic = exhibit_topic(EXHIBIT, Channel.ASSIGNMENT)
    fleet.publish(topic, assignment.to_payload(), retain=True)


def reports(fleet: Subscriber) -> list[ConfigReport]:
    return [ConfigReport.model_validate_json(m.payload) for m in fleet.received("/configured")]


def answers(fleet: Subscriber) -> int:
    """Distinct reports: one sent again after a reconnect (its PUBACK lost) is the same."""
    return len({m.payload for m in fleet.received("/configured")})


def births(fleet: Subscriber) -> list[Status]:
    return [s for s, _retained in fleet.statuses() if s.online]


def rebuilt(agent: Agent, settings: AgentSettings, factory: MockFactory) -> Agent:
    """What ``exhibit-agent run`` does once the agent asks to be rebuilt."""
    deadline = time.monotonic() + 10
    while not agent.reconfigure_requested:
        assert time.monotonic() < deadline, "the agent did not ask to be rebuilt"
        time.sleep(0.02)
    agent.stop()
    return started(with_pushed(settings), factory)


def test_a_pushed_led_behaviour_is_applied_and_a_press_lights_the_led(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        press(factory)
        assert agent.wait_recorded(5)
        assert not factory.pin(5).state  # no lamp yet: nothing drives pin 5
        push(fleet, 1, WITH_LAMP)
        assert fleet.wait_for(lambda: agent.reconfigure_requested)
        time.sleep(0.3)
        assert reports(fleet) == []  # written, not running yet: not "applied"
        agent = rebuilt(agent, settings, factory)
        assert agent.settings.config_version == 1
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)][:1] == ["applied"])
        report = reports(fleet)[0]
        assert (report.version, report.config_hash) == (1, config_hash(WITH_LAMP))
        assert fleet.wait_for(lambda: births(fleet)[-1].config_version == 1)
        assert births(fleet)[-1].config_hash == config_hash(WITH_LAMP)
        assert births(fleet)[0].config_version is None  # the local settings before

        lamp = agent.controller.outputs.device("lamp")
        assert not lamp.is_lit
        press(factory)
        assert fleet.wait_for(lambda: lamp.is_lit, timeout=5)
        assert agent.flush(10)
        assert fleet.wait_for(lambda: fleet.counted() == {"button": 2})
        seqs = [r.seq for r in fleet.records()]
        assert len(seqs) == len(set(seqs))  # the new agent carried on the outbox's seqs
        time.sleep(0.5)  # the retained version again, on the new connection: no new answer
        assert answers(fleet) == 1
        assert not agent.reconfigure_requested
    finally:
        agent.stop()


@pytest.mark.parametrize(
    ("document", "indicator"),
    [
        pytest.param(  # the fleet's checker refuses it: two parts on pin 17
            {**WITH_LAMP, "outputs": [{"name": "lamp", "kind": "led", "pin": 17}]},
            None,
            id="checker",
        ),
        pytest.param(  # good for the checker, but the exhibit's indicator is on pin 5
            WITH_LAMP, {"pin": 5}, id="local-settings"
        ),
    ],
)
def test_a_bad_pushed_config_is_refused_and_reported_and_the_old_one_stays(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
    document: dict[str, Any],
    indicator: dict[str, Any] | None,
) -> None:
    settings = broker_settings(make_settings, mosquitto.port, indicator=indicator)
    agent = started(settings, factory)
    try:
        push(fleet, 1, document)
        assert fleet.wait_for(lambda: bool(reports(fleet)))
        report = reports(fleet)[0]
        assert (report.outcome, report.version) == ("refused", 1)
        assert report.reason
        found = problems(document)
        if found:
            assert report.reason == describe(found)  # the checker's own line
        else:
            assert report.reason.startswith("setting ")
            assert "pin 5" in report.reason
        assert not pushed_path(settings.data_dir).exists()
        time.sleep(0.3)
        assert not agent.reconfigure_requested
        assert agent.settings.outputs == []
        assert agent.settings.config_version is None
        press(factory)
        assert agent.wait_recorded(5)
        assert agent.interactions_recorded == 1  # it counts on
    finally:
        agent.stop()
    # A restart meets the retained refused version again: answered once, not again.
    again = started(with_pushed(settings), factory)
    try:
        time.sleep(0.5)
        assert answers(fleet) == 1
        assert again.settings.config_version is None
    finally:
        again.stop()


def test_a_config_pushed_during_a_visit_waits_until_the_visit_ends(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        assign(fleet, 7)
        assert fleet.wait_for(lambda: agent.visit_id == 7)
        push(fleet, 1, WITH_LAMP)
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)] == ["waiting"])
        press(factory)  # the school's presses count under the old configuration
        assert agent.wait_recorded(5)
        time.sleep(0.3)
        assert not agent.reconfigure_requested
        assert not pushed_path(settings.data_dir).exists()

        assign(fleet, None)  # the visit ends
        agent = rebuilt(agent, settings, factory)
        assert agent.settings.config_version == 1
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)] == ["waiting", "applied"])
        press(factory)
        lamp = agent.controller.outputs.device("lamp")
        assert fleet.wait_for(lambda: lamp.is_lit, timeout=5)
    finally:
        agent.stop()


def test_force_applies_during_a_visit(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        assign(fleet, 7)
        assert fleet.wait_for(lambda: agent.visit_id == 7)
        push(fleet, 1, WITH_LAMP, force=True)
        agent = rebuilt(agent, settings, factory)
        assert agent.visit_id == 7  # still in the visit, running version 1
        assert agent.settings.config_version == 1
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)][:1] == ["applied"])
    finally:
        agent.stop()


def test_run_forever_returns_reconfigure_once_a_version_is_applied(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    """The loop of ``exhibit-agent run``: run_forever (main thread) ends with the reason."""
    settings = broker_settings(make_settings, mosquitto.port)
    agent = Agent(settings, pin_factory=factory)

    def fleet_pushes() -> None:
        if fleet.wait_for(lambda: bool(births(fleet))):
            push(fleet, 3, WITH_LAMP)

    pusher = threading.Thread(target=fleet_pushes)
    pusher.start()
    stuck = threading.Timer(30, os.kill, (os.getpid(), signal.SIGINT))  # never hang
    stuck.start()
    try:
        assert agent.run_forever() == "reconfigure"
    finally:
        stuck.cancel()
    pusher.join()
    assert agent.state == "stopped"
    assert with_pushed(settings).config_version == 3


def test_a_version_written_before_a_power_cut_is_reported_by_the_agent_that_runs_it(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    """The power went after the rename, before the rebuild: the file is there, no report."""
    settings = broker_settings(make_settings, mosquitto.port)
    settings.data_dir.mkdir(parents=True)
    write_pushed(settings.data_dir, Pushed(2, config_hash(WITH_LAMP), WITH_LAMP))
    push(fleet, 2, WITH_LAMP)
    agent = started(with_pushed(settings), factory)
    try:
        assert agent.settings.config_version == 2
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)][:1] == ["applied"])
        assert reports(fleet)[0].version == 2
        time.sleep(0.3)
        assert not agent.reconfigure_requested  # it runs version 2 already
    finally:
        agent.stop()


def test_exhibit_agent_run_rebuilds_itself_on_a_pushed_version(
    mosquitto: MosquittoProcess, tmp_path: Path, fleet: Subscriber
) -> None:
    """The real command: RELOADING=1 to systemd, a new agent, READY=1, the new birth."""
    with agent_run(mosquitto.port, tmp_path / "cli-agent", INSTANT_INPUTS, notify_timeout=20) as (
        child,
        systemd,
    ):
        notes = [systemd.recv(4096).decode()]
        assert fleet.wait_for(lambda: bool(births(fleet)), timeout=15)
        push(fleet, 1, WITH_LAMP)
        while notes.count("READY=1\nSTATUS=counting 2 input(s)") < 2:
            notes.append(systemd.recv(4096).decode())
        assert fleet.wait_for(lambda: births(fleet)[-1].config_version == 1, timeout=15)
        assert births(fleet)[-1].config_hash == config_hash(WITH_LAMP)
        assert fleet.wait_for(lambda: [r.outcome for r in reports(fleet)][:1] == ["applied"])
        child.send_signal(signal.SIGTERM)
        while notes[-1] != "STOPPING=1":
            notes.append(systemd.recv(4096).decode())
        _out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    assert "RELOADING=1\nSTATUS=applying the fleet's configuration" in notes
    assert notes.index("RELOADING=1\nSTATUS=applying the fleet's configuration") < notes.index(
        "STOPPING=1"
    )
    assert "STOPPING=1" not in notes[:-1]  # systemd heard one stop: the last
    assert pushed_path(tmp_path / "cli-agent").exists()
