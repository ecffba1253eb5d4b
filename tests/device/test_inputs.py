"""Every input kind on gpiozero's MockFactory: the devices, their wiring to the rules, closing."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest
from gpiozero import DistanceSensor
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from device.core.clock import FakeClock
from device.core.errors import InputError
from device.core.events import Interaction
from device.gpio.inputs import build_inputs, build_lamp
from device.gpio.mock import set_mock_distance, turn
from device.settings.wiring import (
    BeamInput,
    ButtonInput,
    DistanceInput,
    IndicatorSpec,
    LineInput,
    MotionInput,
    RotaryInput,
)
from tests.device.hands import press

BUTTON = ButtonInput(name="button", pin=17)
MOTION = MotionInput(name="motion", pin=4)


def names(seen: list[Interaction]) -> list[str]:
    return [i.input for i in seen]


def wiggle(pin: MockPin, clock: FakeClock, runs: list[float], *, first_low: bool) -> None:
    """Edges at the start of each run, alternating from ``first_low``, each held runs[i] s."""
    for index, length in enumerate(runs):
        if (index % 2 == 0) is first_low:
            pin.drive_low()
        else:
            pin.drive_high()
        clock.advance(length)


def test_button_presses_become_interactions_stamped_by_the_clock(
    factory: MockFactory, clock: FakeClock
) -> None:
    seen: list[Interaction] = []
    with build_inputs([BUTTON], pin_factory=factory, on_interaction=seen.append, clock=clock):
        press(factory, clock, times=5)
    assert names(seen) == ["button"] * 5
    assert [i.mono for i in seen] == pytest.approx([1000.0, 1000.2, 1000.4, 1000.6, 1000.8])
    assert seen[0].wall == FakeClock().wall()


def test_button_bounce_on_both_edges_is_one_press_with_the_injected_clock(
    factory: MockFactory, clock: FakeClock
) -> None:
    seen: list[Interaction] = []
    with build_inputs(
        [BUTTON], pin_factory=factory, on_interaction=seen.append, clock=clock
    ) as bank:
        pin = factory.pin(17)
        for _ in range(3):
            wiggle(pin, clock, [0.002] * 20 + [0.15], first_low=True)  # bounce, then held
            wiggle(pin, clock, [0.002] * 8 + [0.3], first_low=False)  # released, bouncing
        seen.extend(bank.rules.settle())
    assert names(seen) == ["button"] * 3
    assert seen[0].mono == pytest.approx(1000.04)  # the first edge of the level that held


def test_a_button_held_long_enough_also_counts_as_a_hold(
    factory: MockFactory, clock: FakeClock
) -> None:
    spec = ButtonInput(name="lever", pin=17, hold_s=2)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock) as bank:
        for held in (0.5, 2.5):
            press(factory, clock, hold=held, gap=1)
        seen.extend(bank.rules.settle())
    assert names(seen) == ["lever", "lever", "lever_hold"]
    assert seen[-1].origin == "lever"
    assert seen[-1].mono == pytest.approx(1000 + 0.5 + 1 + 2.5)  # counted on release


def test_a_broken_beam_counts_once_per_break_however_it_flickers(
    factory: MockFactory, clock: FakeClock
) -> None:
    spec = BeamInput(name="door", pin=6)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock) as bank:
        pin = factory.pin(6)
        for _ in range(3):
            # A visitor's edge flickers as they enter and leave the beam.
            wiggle(pin, clock, [0.003, 0.004, 0.002, 0.005, 0.4], first_low=True)
            wiggle(pin, clock, [0.004, 0.03, 0.006, 0.05, 1.0], first_low=False)
        seen.extend(bank.rules.settle())
    assert names(seen) == ["door"] * 3


def test_a_pir_that_drops_out_and_retriggers_is_one_presence(
    factory: MockFactory, clock: FakeClock
) -> None:
    seen: list[Interaction] = []
    with build_inputs(
        [MOTION], pin_factory=factory, on_interaction=seen.append, clock=clock
    ) as bank:
        pin = factory.pin(4)  # pulled down: nobody
        for _ in range(2):  # two visitors, each staying 10 s with the output dropping out
            wiggle(pin, clock, [3.0, 1.5, 3.0, 2.4, 2.0, 5.0], first_low=False)
        seen.extend(bank.rules.settle())
    assert names(seen) == ["motion"] * 2


@pytest.mark.parametrize("count_on", ["no_line", "line"])
def test_a_line_sensor_counts_the_chosen_edge_once_through_its_flicker(
    factory: MockFactory, clock: FakeClock, count_on: str
) -> None:
    spec = LineInput(name="track", pin=5, count_on=count_on)
    seen: list[Interaction] = []
    with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock) as bank:
        pin = factory.pin(5)  # pulled down: a line at first
        wiggle(pin, clock, [0.002, 0.003, 0.5], first_low=False)  # off the line
        seen.extend(bank.rules.settle())
        wiggle(pin, clock, [0.003, 0.002, 0.5], first_low=True)  # on a line again
        seen.extend(bank.rules.settle())
    assert names(seen) == ["track"]
    expected = 1000.005 if count_on == "no_line" else 1000.505 + 0.005
    assert seen[0].mono == pytest.approx(expected)


def test_a_pin_callback_survives_garbage_collection(factory: MockFactory, clock: FakeClock) -> None:
    """gpiozero keeps pin callbacks by weak reference; the bank keeps ours alive."""
    seen: list[Interaction] = []
    with build_inputs([BUTTON], pin_factory=factory, on_interaction=seen.append, clock=clock):
        gc.collect()
        press(factory, clock)
        press(factory, clock)  # the next edge confirms the release of the first
    assert names(seen) == ["button"] * 2


def test_settings_that_no_longer_apply_are_ignored_with_a_warning(
    factory: MockFactory, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    old = [
        MotionInput(name="pir", pin=4, sample_rate_hz=10),
        LineInput(name="track", pin=5, queue_len=5),
    ]
    build_inputs(old, pin_factory=factory, on_interaction=print, clock=clock).close()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "input pir: sample_rate_hz is ignored (the sensor is read on its pin's edges, "
        "debounced by press_debounce_s / release_debounce_s); remove it from the configuration",
        "input track: queue_len is ignored (the sensor is read on its pin's edges, "
        "debounced by press_debounce_s / release_debounce_s); remove it from the configuration",
    ]


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


@pytest.mark.filterwarnings("ignore::gpiozero.DistanceSensorNoEcho")  # a starved echo thread
def test_closing_a_distance_sensor_mid_reading_lets_the_reading_finish(
    factory: MockFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its sampling thread stops before its trigger is released (else AttributeError there)."""
    spec = DistanceInput(name="near", echo_pin=24, trigger_pin=23, queue_len=3)
    armed, held = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    read = DistanceSensor._read

    def held_until_close(sensor: Any) -> Any:
        if armed.is_set():
            held.set()  # this reading waits until close() stops the thread, then goes on
            sensor._queue.stopping.wait()
        try:
            return read(sensor)
        except Exception as exc:  # the thread would swallow it otherwise
            failures.append(exc)
            return None

    monkeypatch.setattr(DistanceSensor, "_read", held_until_close)
    bank = build_inputs([spec], pin_factory=factory, on_interaction=lambda _i: None, clock=clock)
    armed.set()
    assert held.wait(5)
    bank.close()
    assert failures == []


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
    again = build_inputs(
        [BUTTON, MOTION], pin_factory=factory, on_interaction=seen.append, clock=clock
    )
    press(factory, clock, times=2)
    again.close()
    assert names(seen) == ["button"] * 2


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
                press(pins, clock)
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
