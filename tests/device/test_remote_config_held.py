"""A pushed configuration held by the agent, in the real agent on mock pins, through real
Mosquitto: a newer version arriving while one waits for its visit to end, and a version
arriving while a self-test window is open (the rebuild that applies it would cut the window).

The test plays the fleet as ``tests/device/test_remote_config.py`` does (whose helpers it
uses), and also sends the retained ``self_test`` command and reads the result.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from broker.exhibit_config import config_hash
from broker.messages import Command, CommandDone, SelfTestResult, utc_now
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.ops.selftest import POLL_S, request_dir, wait_result, write_request
from device.settings.pushed import pushed_path, read_pushed
from tests.device.conftest import SettingsMaker, broker_settings, press, started
from tests.device.subscriber import Subscriber
from tests.device.test_remote_config import (
    EXHIBIT,
    WITH_LAMP,
    assign,
    push,
    rebuilt,
    reports,
)

LONGER_LAMP: dict[str, Any] = {
    **WITH_LAMP,
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 8}
    ],
}
WINDOW_S = 5.0
"""Long enough to push a version and press inside the window on a loaded machine."""


@pytest.fixture
def fleet(mosquitto: MosquittoProcess) -> Iterator[Subscriber]:
    """The fleet's end: reports, statuses, counts, command outcomes and self-test results."""
    channels = (
        Channel.CONFIGURED,
        Channel.STATUS,
        Channel.COUNTS,
        Channel.DONE,
        Channel.SELFTEST,
    )
    topics = [exhibit_topic(EXHIBIT, c) for c in channels]
    subscriber = Subscriber(mosquitto.port, topics, client_id="fleet", confirm=True)
    yield subscriber
    subscriber.close()


def outcomes(fleet: Subscriber) -> list[tuple[int, str]]:
    return [(r.version, r.outcome) for r in reports(fleet)]


def self_test(fleet: Subscriber) -> str:
    """Send a retained self-test command of ``WINDOW_S``, as the fleet's button does."""
    now = utc_now()
    command = Command(
        exhibit_id=EXHIBIT,
        command_id=uuid.uuid4().hex,
        action="self_test",
        seconds=WINDOW_S,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    topic = exhibit_topic(EXHIBIT, Channel.COMMAND)
    fleet.publish(topic, command.to_payload(), retain=True)
    return command.command_id


def results(fleet: Subscriber) -> list[SelfTestResult]:
    """Distinct results: one sent again by the rebuilt agent (no PUBACK yet) is the same."""
    payloads = dict.fromkeys(m.payload for m in fleet.received("/selftest"))
    return [SelfTestResult.model_validate_json(payload) for payload in payloads]


def done(fleet: Subscriber) -> list[CommandDone]:
    return [CommandDone.model_validate_json(m.payload) for m in fleet.received("/done")]


def arrival(fleet: Subscriber, suffix: str, check: Any = lambda payload: True) -> int:
    """Where the first message on ``suffix`` passing ``check`` stands among all received."""
    return next(
        i for i, m in enumerate(fleet.messages) if m.topic.endswith(suffix) and check(m.payload)
    )


def test_a_newer_version_that_must_wait_too_is_answered_waiting_and_alone_applied(
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
        assert fleet.wait_for(lambda: outcomes(fleet) == [(1, "waiting")])
        push(fleet, 2, LONGER_LAMP)  # replaces version 1 on the broker and in the agent
        assert fleet.wait_for(lambda: outcomes(fleet) == [(1, "waiting"), (2, "waiting")])
        time.sleep(0.3)
        assert not agent.reconfigure_requested
        assert not pushed_path(settings.data_dir).exists()

        assign(fleet, None)  # the visit ends: the newest version goes on, version 1 never
        agent = rebuilt(agent, settings, factory)
        assert agent.settings.config_version == 2
        assert fleet.wait_for(
            lambda: outcomes(fleet) == [(1, "waiting"), (2, "waiting"), (2, "applied")]
        )
        kept = read_pushed(settings.data_dir)
        assert kept is not None
        assert (kept.version, kept.config_hash) == (2, config_hash(LONGER_LAMP))
        time.sleep(0.5)  # the retained version 2 again, on the new connection: quiet
        assert outcomes(fleet) == [(1, "waiting"), (2, "waiting"), (2, "applied")]
    finally:
        agent.stop()


def test_a_version_pushed_during_a_self_test_is_applied_once_the_window_has_reported(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="device.ops.remote_config")
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        command_id = self_test(fleet)
        assert fleet.wait_for(lambda: agent.self_testing)
        push(fleet, 1, WITH_LAMP)  # not in a visit: it would be applied at once
        assert fleet.wait_for(lambda: "waits until the self-test window closes" in caplog.text)
        assert not agent.reconfigure_requested  # held: nothing written, no rebuild
        assert not pushed_path(settings.data_dir).exists()
        assert agent.self_testing
        press(factory)  # the technician's press, inside the window

        agent = rebuilt(agent, settings, factory)  # waits for the agent to ask
        assert fleet.wait_for(lambda: bool(results(fleet)))
        [result] = results(fleet)  # the window ran to its end and was reported
        assert result.command_id == command_id
        assert result.seen == {"button": True, "motion": False}
        assert result.taken == {"button": 1}
        assert agent.settings.config_version == 1
        assert fleet.wait_for(lambda: outcomes(fleet) == [(1, "applied")])
        assert arrival(fleet, "/selftest") < arrival(fleet, "/configured")
        assert [(d.command_id, d.outcome) for d in done(fleet)] == [(command_id, "ran")]
        assert agent.flush(10)
        assert fleet.counted() == {}  # the press was the technician's, not a visitor's
    finally:
        agent.stop()


def test_a_self_test_sent_while_the_agent_awaits_its_rebuild_is_run_by_the_new_agent(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    """Its window would be cut by the rebuild: the old agent leaves the retained command."""
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        push(fleet, 1, WITH_LAMP)
        assert fleet.wait_for(lambda: agent.reconfigure_requested)
        command_id = self_test(fleet)
        time.sleep(0.5)
        assert not agent.self_testing
        assert done(fleet) == []  # not run, not noted: it comes again, retained

        agent = rebuilt(agent, settings, factory)
        assert agent.settings.config_version == 1
        assert fleet.wait_for(lambda: agent.self_testing)
        press(factory)
        assert fleet.wait_for(lambda: bool(results(fleet)), timeout=WINDOW_S + 10)
        [result] = results(fleet)
        assert (result.command_id, result.taken) == (command_id, {"button": 1})
        assert [(d.command_id, d.outcome) for d in done(fleet)] == [(command_id, "ran")]
    finally:
        agent.stop()


def test_a_self_test_request_file_waits_for_the_rebuilt_agent(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    """``exhibit-agent self-test`` beside a running service, while the rebuild is pending."""
    settings = broker_settings(make_settings, mosquitto.port)
    agent = started(settings, factory)
    try:
        push(fleet, 1, WITH_LAMP)
        assert fleet.wait_for(lambda: agent.reconfigure_requested)
        request_id = write_request(settings.data_dir, seconds=0.5)
        requested = request_dir(settings.data_dir) / f"request-{request_id}.json"
        time.sleep(3 * POLL_S)
        assert requested.exists()  # not taken: its window would be cut
        assert not agent.self_testing

        agent = rebuilt(agent, settings, factory)
        result = wait_result(settings.data_dir, request_id, timeout=10)
        assert result is not None
        assert (result.command_id, result.seen) == (request_id, {"button": False, "motion": False})
        assert not requested.exists()
    finally:
        agent.stop()
