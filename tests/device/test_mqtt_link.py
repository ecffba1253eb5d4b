"""The paho link's pure parts; its network behaviour is covered by test_integration."""

from __future__ import annotations

import pytest

from device.link.base import Publication
from device.link.mqtt import LinkOptions, MqttLink, backoff_delay


def test_backoff_doubles_up_to_the_ceiling_with_jitter() -> None:
    low_draw = [backoff_delay(n, low=0.5, high=60, rand=lambda: 0.0) for n in range(10)]
    high_draw = [backoff_delay(n, low=0.5, high=60, rand=lambda: 1.0) for n in range(10)]
    assert low_draw[:4] == [0.25, 0.5, 1.0, 2.0]
    assert high_draw[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(high_draw) == 60
    assert min(low_draw[8:]) == 30  # never below half the ceiling
    assert backoff_delay(10_000, low=0.5, high=60, rand=lambda: 0.5) == pytest.approx(45)


def test_publishing_without_a_live_session_is_refused() -> None:
    link = MqttLink(LinkOptions(host="127.0.0.1", port=1, client_id="t"))
    assert link.session is None
    assert link.publish(1, Publication("t", b"x")) is None
    link.close(farewell=None, timeout=0.1)  # never started: nothing to do
