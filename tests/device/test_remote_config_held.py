"""A pushed configuration held by the agent, in the real agent on mock pins, through real
Mosquitto: a newer version arriving while one waits for its visit to end.

The test plays the fleet as ``tests/device/test_remote_config.py`` does (whose helpers it
uses).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from broker.exhibit_config import config_hash
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.settings.pushed import pushed_path, read_pushed
from tests.device.conftest import SettingsMaker
from tests.device.subscriber import Subscriber
from tests.device.test_remote_config import (
    EXHIBIT,
    WITH_LAMP,
    assign,
    local,
    push,
    rebuilt,
    reports,
    started,
)

LONGER_LAMP: dict[str, Any] = {
    **WITH_LAMP,
    "behaviours": [
        {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 8}
    ],
}


@pytest.fixture
def fleet(mosquitto: MosquittoProcess) -> Iterator[Subscriber]:
    """The fleet's end: reports, statuses and counts."""
    channels = (Channel.CONFIGURED, Channel.STATUS, Channel.COUNTS)
    topics = [exhibit_topic(EXHIBIT, c) for c in channels]
    subscriber = Subscriber(mosquitto.port, topics, client_id="fleet", confirm=True)
    yield subscriber
    subscriber.close()


def outcomes(fleet: Subscriber) -> list[tuple[int, str]]:
    return [(r.version, r.outcome) for r in reports(fleet)]


def test_a_newer_version_that_must_wait_too_is_answered_waiting_and_alone_applied(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    fleet: Subscriber,
) -> None:
    settings = local(make_settings, mosquitto.port)
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
