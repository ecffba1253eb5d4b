"""Inputs on gpiozero's MockFactory: presses, motion, our debounce, clean closing."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from device.clock import FakeClock
from device.config import InputSpec
from device.errors import InputError
from device.events import Interaction
from device.inputs import Debouncer, build_inputs, pulse_motion

BUTTON = InputSpec(name="button", kind="button", pin=17)
MOTION = InputSpec(name="motion", kind="motion", pin=4, sample_rate_hz=200)


def test_debouncer_ignores_events_too_close_to_the_last_accepted_one() -> None:
    debounce = Debouncer({"a": 0.05, "b": 0.0})
    assert debounce.accept("a", 10.00)
    assert not debounce.accept("a", 10.03)
    assert not debounce.accept("a", 10.049)
    assert debounce.accept("a", 10.05)  # measured from the accepted one at 10.00
    assert debounce.accept("b", 10.05)  # inputs are independent
    assert debounce.accept("b", 10.05)  # zero window: everything counts


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
    assert [i.input for i in seen] == ["button"] * 5
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


def test_motion_pulses_are_counted_once_each(factory: MockFactory, clock: FakeClock) -> None:
    seen: list[Interaction] = []
    with build_inputs(
        [MOTION], pin_factory=factory, on_interaction=seen.append, clock=clock
    ) as bank:
        for _ in range(3):
            assert pulse_motion(bank, "motion", factory.pin(4), timeout=2)
            clock.advance(1)
    assert [i.input for i in seen] == ["motion"] * 3


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
    assert [i.input for i in seen] == ["button"]


def test_a_pin_that_cannot_be_used_is_an_input_error_and_nothing_stays_open(
    factory: MockFactory,
) -> None:
    clash = InputSpec(name="other", kind="button", pin=17)
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
