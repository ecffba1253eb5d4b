"""Every input kind on gpiozero's MockFactory: the devices, their wiring to the rules, closing."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.clock import FakeClock
from device.errors import InputError
from device.events import Interaction
from device.inputs import build_inputs, build_lamp, pulse_motion, set_mock_distance, turn
from device.wiring import (
    BeamInput,
    ButtonInput,
    DistanceInput,
    IndicatorSpec,
    LineInput,
    MotionInput,
    RotaryInput,
)
from tests.device.fakes import eventually

BUTTON = ButtonInput(name="button", pin=17)
MOTION = MotionInput(name="motion", pin=4, sample_rate_hz=200)


def names(seen: list[Interaction]) -> list[str]:
    return [i.input for i in seen]


def test_button_presses_become_interactions_stamped_by_the_clock(
    factory: MockFactory, clock: FakeClock
) -> None:
    seen: list[Interaction] = []
    with build_inputs([BUTTON], pin_factory=factory, on_interaction=seen.append, clock=clock):
        pin = factory.pin(17)
        for _ in range(5):
            pin.drive_low()
            pin.drive_high()
            clock.advance(0.2)
    assert names(seen) == ["button"] * 5
    assert [i.mono for i in seen] == pytest.approx([1000.0, 1000.2, 1000.4, 1000.6, 1000.8])
    assert seen[0].wall == FakeClock().wall()


def test_button_bounce_is_debounced_with_the_injected_clock(
    factory: MockFactory, clock: FakeClock
) -> None:
    seen: list[Interaction] = []
    with build_inputs([BUTTON], pin_factory=factory, on_interaction=seen.append, clock=clock):
        pin = factory.pin(17)
        for step in (0.0, 0.01, 0.02, 0.06, 0.01):  # contact bounce, then a real press
            clock.advance(step)
            pin.drive_low()
            pin.drive_high()
    assert len(seen) == 2


def test_a_button_held_long_enough_also_counts_as_a_hold(
    factory: MockFactory, clock: FakeClock
) -> None:
    spec = ButtonInput(name="lever", pin=17, hold_s=2)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock):
        pin = factory.pin(17)
        for held in (0.5, 2.5):
            pin.drive_low()
            clock.advance(held)
            pin.drive_high()
            clock.advance(1)
    assert names(seen) == ["lever", "lever", "lever_hold"]
    assert seen[-1].origin == "lever"
    assert seen[-1].mono == pytest.approx(1000 + 0.5 + 1 + 2.5)  # counted on release


def test_a_broken_beam_counts_once_per_break(factory: MockFactory, clock: FakeClock) -> None:
    spec = BeamInput(name="door", pin=6)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock):
        pin = factory.pin(6)
        for _ in range(3):
            pin.drive_low()  # beam broken: the receiver pulls the pin low
            clock.advance(0.05)  # a visitor's edge flickers within the 0.1 s debounce
            pin.drive_high()
            pin.drive_low()
            pin.drive_high()
            clock.advance(1)
    assert names(seen) == ["door"] * 3


def test_motion_pulses_are_counted_once_each(factory: MockFactory, clock: FakeClock) -> None:
    seen: list[Interaction] = []
    with build_inputs(
        [MOTION], pin_factory=factory, on_interaction=seen.append, clock=clock
    ) as bank:
        for _ in range(3):
            assert pulse_motion(bank, "motion", factory.pin(4), timeout=2)
            clock.advance(1)
    assert names(seen) == ["motion"] * 3


@pytest.mark.parametrize(("count_on", "after_no_line"), [("no_line", 1), ("line", 0)])
def test_a_line_sensor_counts_the_chosen_edge(
    factory: MockFactory, clock: FakeClock, count_on: str, after_no_line: int
) -> None:
    spec = LineInput(name="track", pin=5, count_on=count_on, sample_rate_hz=500, queue_len=1)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock) as bank:
        sensor, pin = bank.device("track"), factory.pin(5)  # pulled down: a line at first
        pin.drive_high()  # no line under the sensor any more
        assert sensor.wait_for_no_line(2)
        # gpiozero sets the event just before it calls back: wait for the callback too.
        eventually(lambda: len(seen) == after_no_line, what="the no-line edge")
        pin.drive_low()  # a line again
        assert sensor.wait_for_line(2)
        eventually(lambda: len(seen) == 1, what="the line edge")
    assert names(seen) == ["track"]


@pytest.mark.filterwarnings("ignore::gpiozero.DistanceSensorNoEcho")  # a starved echo thread
def test_a_visitor_coming_within_the_threshold_counts_once_per_approach(
    factory: MockFactory, clock: FakeClock
) -> None:
    spec = DistanceInput(
        name="near", echo_pin=24, trigger_pin=23, threshold_m=0.5, max_distance_m=2, queue_len=3
    )
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock) as bank:
        sensor = bank.device("near")
        assert sensor.wait_for_out_of_range(3)  # nobody at first
        for _ in range(2):
            set_mock_distance(factory, spec, 0.1)
            assert sensor.wait_for_in_range(5)
            set_mock_distance(factory, spec, None)
            assert sensor.wait_for_out_of_range(5)
    assert names(seen) == ["near"] * 2


def test_a_rotary_encoder_counts_turns_per_direction(
    factory: MockFactory, clock: FakeClock
) -> None:
    spec = RotaryInput(name="dial", a_pin=20, b_pin=21, steps_per_interaction=5)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock):
        turn(factory, spec, 12)  # two full interactions, 2 steps left over
        turn(factory, spec, -4)  # turning back forgets them; 4 is not yet 5
        turn(factory, spec, -1)
        turn(factory, spec, 3)
    assert names(seen) == ["dial_cw", "dial_cw", "dial_ccw"]
    assert {i.origin for i in seen} == {"dial"}


def test_closing_releases_the_pins(factory: MockFactory, clock: FakeClock) -> None:
    seen: list[Interaction] = []
    bank = build_inputs([BUTTON, MOTION], pin_factory=factory, on_interaction=seen.append)
    assert bank.names == ["button", "motion"]
    bank.close()
    bank.close()  # twice is fine
    again = build_inputs([BUTTON, MOTION], pin_factory=factory, on_interaction=seen.append)
    factory.pin(17).drive_low()
    factory.pin(17).drive_high()
    again.close()
    assert names(seen) == ["button"]


def test_a_pin_that_cannot_be_used_is_an_input_error_and_nothing_stays_open(
    factory: MockFactory,
) -> None:
    clash = ButtonInput(name="other", pin=17)
    with pytest.raises(InputError, match=r"input 'other' \(button\) on GPIO17"):
        build_inputs([BUTTON, clash], pin_factory=factory, on_interaction=print)
    # The first button was closed again, so its pin is free.
    build_inputs([BUTTON], pin_factory=factory, on_interaction=print).close()


def test_one_factory_per_exhibit_means_the_same_pin_twice_in_one_process(
    clock: FakeClock,
) -> None:
    first, second = MockFactory(), MockFactory()
    seen: list[Interaction] = []
    try:
        with (
            build_inputs([BUTTON], pin_factory=first, on_interaction=seen.append, clock=clock),
            build_inputs([BUTTON], pin_factory=second, on_interaction=seen.append, clock=clock),
        ):
            for pins in (first, second):
                pins.pin(17).drive_low()
                pins.pin(17).drive_high()  # closing a held Button waits out its hold_time
    finally:
        first.reset()
        second.reset()
    assert len(seen) == 2


def test_the_indicator_lamp_is_an_led_or_a_pwm_led(factory: MockFactory) -> None:
    lamp = build_lamp(IndicatorSpec(pin=27), pin_factory=factory)
    lamp.on()
    assert factory.pin(27).state is True
    lamp.close()
    pwm = MockFactory(pin_class=MockPWMPin)
    try:
        dimmable = build_lamp(IndicatorSpec(pin=27, pwm=True), pin_factory=pwm)
        dimmable.value = 0.5
        assert pwm.pin(27).state == 0.5
        dimmable.close()
        with pytest.raises(InputError, match="MockPWMPin"):
            build_lamp(IndicatorSpec(pin=22, pwm=True), pin_factory=factory)
    finally:
        pwm.reset()
