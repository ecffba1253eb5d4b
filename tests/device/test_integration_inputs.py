"""Every input kind of a real agent on mock pins counts through real Mosquitto, bounces too."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.gpio.mock import set_mock_distance, turn
from device.runtime.agent import Agent
from device.settings.wiring import DistanceInput, RotaryInput
from tests.device import hands
from tests.device.conftest import SettingsMaker, broker_settings, subscribe
from tests.device.subscriber import Subscriber

COUNTS = exhibit_topic("exhibit-001", Channel.COUNTS)


STATUS = exhibit_topic("exhibit-001", Channel.STATUS)


@pytest.mark.filterwarnings("ignore::gpiozero.DistanceSensorNoEcho")  # a starved echo thread
def test_every_input_kind_counts_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    live = subscribe(subscribers, mosquitto.port, COUNTS, STATUS)
    clock = FakeClock()
    specs = [
        {"name": "start", "kind": "button", "pin": 17, "hold_s": 2},
        {"name": "pir", "kind": "motion", "pin": 4},
        {"name": "near", "kind": "distance", "echo_pin": 24, "trigger_pin": 23, "queue_len": 3},
        {"name": "track", "kind": "line", "pin": 5},
        {"name": "door", "kind": "beam", "pin": 6},
        {"name": "dial", "kind": "rotary", "a_pin": 20, "b_pin": 21, "steps_per_interaction": 4},
    ]
    settings = broker_settings(make_settings, mosquitto.port, inputs=specs, indicator={"pin": 27})
    with Agent(settings, pin_factory=factory, clock=clock) as agent:
        assert agent.wait_connected(10)
        bank = agent.inputs
        hands.press(factory, clock, 17, gap=1)  # a press ...
        hands.press(factory, clock, 17, hold=3, gap=1)  # ... and a press held for 3 s
        factory.pin(4).drive_high()  # a visitor stands in front of the PIR for 5 s
        clock.advance(5)
        factory.pin(4).drive_low()
        clock.advance(4)
        distance = settings.inputs[2]
        assert isinstance(distance, DistanceInput)
        set_mock_distance(factory, distance, 0.2)
        assert bank.device("near").wait_for_in_range(5)
        set_mock_distance(factory, distance, None)
        assert bank.device("near").wait_for_out_of_range(5)
        factory.pin(5).drive_high()  # the track loses its line (counted: no_line) ...
        clock.advance(1)
        factory.pin(5).drive_low()  # ... and finds it again (not counted)
        clock.advance(1)
        hands.press(factory, clock, 6, times=2, hold=0.2, gap=1)  # the beam broken twice
        rotary = settings.inputs[5]
        assert isinstance(rotary, RotaryInput)
        turn(factory, rotary, 9)
        turn(factory, rotary, -4)
        assert agent.flush(10)
    expected = {
        "start": 2,
        "start_hold": 1,
        "pir": 1,
        "near": 1,
        "track": 1,
        "door": 2,
        "dial_cw": 2,
        "dial_ccw": 1,
    }
    assert live.wait_for(lambda: live.counted() == expected)
    birth = next(status for status, _retained in live.statuses() if status.online)
    assert birth.inputs == list(expected)


def test_bounced_presses_count_once_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    """The report's press on default settings, in real time: the broker carries one each."""
    live = subscribe(subscribers, mosquitto.port, COUNTS)
    pins = (17, 27, 22, 23)
    settings = broker_settings(
        make_settings,
        mosquitto.port,
        inputs=[{"name": f"b{n}", "kind": "button", "pin": pin} for n, pin in enumerate(pins)],
    )
    with Agent(settings, pin_factory=factory) as agent:
        assert agent.wait_connected(10)
        stretched = hands.press_many(
            factory, dict.fromkeys(pins, hands.ISSUE_PRESS), 5, hands.IDLE_S, seed=1
        )
        assert agent.wait_recorded(5)
        assert agent.flush(10)
    expected = {"b0": 5, "b1": 5, "b2": 5, "b3": 5}
    extra = {f"b{n}": stretched[pin] for n, pin in enumerate(pins)}
    assert live.wait_for(lambda: sum(live.counted().values()) >= 20)
    hands.assert_counted(live.counted(), expected, extra)
