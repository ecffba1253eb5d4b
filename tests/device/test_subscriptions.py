"""What the agent makes of a SUBACK: the refusals, logged, shown, and the status to publish."""

from __future__ import annotations

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from broker.messages import Status
from device.core.clock import FakeClock
from device.gpio.indicator import Indicator
from device.link.base import refusals
from device.ops.subscriptions import SubscriptionWatch
from tests.device.conftest import SettingsMaker

TOPICS = ("a/assignment", "a/command", "a/custody", "a/resend")


def code(value: int) -> ReasonCode:
    return ReasonCode(PacketTypes.SUBACK, identifier=value)


def test_refusals_name_each_refused_filter_with_the_brokers_reason() -> None:
    granted = [code(1)] * 4
    assert refusals(TOPICS, granted) == {}
    mixed = [code(1), code(0x87), code(0), code(0x80)]
    assert refusals(TOPICS, mixed) == {
        "a/command": "Not authorized",
        "a/resend": "Unspecified error",
    }


def test_a_refusal_is_logged_shown_and_published_until_it_is_granted(
    make_settings: SettingsMaker, caplog: pytest.LogCaptureFixture
) -> None:
    indicator = Indicator(None)
    watch = SubscriptionWatch(make_settings(), FakeClock(), indicator)
    assert watch.refused is None
    assert watch.answered({}) is None  # all granted: the birth said all there is
    assert watch.refused == {}
    first = watch.answered({"a/command": "Not authorized"})
    assert first is not None
    assert first.retain
    assert Status.model_validate_json(first.payload).refused_subscriptions == {
        "a/command": "Not authorized"
    }
    assert "refused our subscription to a/command (Not authorized)" in caplog.text
    assert indicator.error == "broker refused subscription a/command: Not authorized"
    # Every connection's birth says nothing of it: published again each time.
    assert watch.answered({"a/command": "Not authorized"}) is not None
    cleared = watch.answered({})
    assert cleared is not None
    assert Status.model_validate_json(cleared.payload).refused_subscriptions == {}
    assert watch.answered({}) is None  # nothing new to say
    assert watch.refused == {}
