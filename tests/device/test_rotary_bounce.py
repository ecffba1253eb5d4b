"""Contact bounce on a rotary encoder's A or B never becomes steps.

The agent does not debounce encoders by time; it relies on gpiozero's quadrature state
machine (``RotaryEncoder.TRANSITIONS``): a step is counted only when the state machine
has walked the whole sequence 0-2-3-1-0 (clockwise) or 0-1-3-2-0 back to the detent.
Contact bounce toggles one channel between two neighbouring states, which never walks
that sequence. Here hypothesis draws turns and, at every transition, a burst of bounce on
the channel that changes, optionally chattering the other channel too (a fast turn,
where one channel's bounce is not over when the other one changes), and drives them
on real MockFactory pins through ``build_inputs``: the steps counted are the steps turned.
"""

from __future__ import annotations

import random

from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from device.core.clock import FakeClock
from device.core.events import Interaction
from device.gpio.inputs import build_inputs
from device.settings.wiring import RotaryInput
from simulator.signals import SignalModel, gesture, play
from tests.device.hands import drive

SPEC = RotaryInput(name="dial", a_pin=20, b_pin=21, steps_per_interaction=1)


def detent(direction: int) -> list[tuple[str, bool]]:
    """The four transitions of one detent (pins pulled up, high at rest)."""
    first, second = ("a", "b") if direction > 0 else ("b", "a")
    return [(first, False), (second, False), (first, True), (second, True)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([1, -1]), min_size=1, max_size=10),
    st.data(),
)
def test_bounce_on_either_channel_never_becomes_a_step(
    turns: list[int], data: st.DataObject
) -> None:
    factory = MockFactory()
    seen: list[Interaction] = []
    levels = {"a": True, "b": True}
    pins = {"a": factory.pin(SPEC.a_pin), "b": factory.pin(SPEC.b_pin)}

    def set_level(pin: str, high: bool) -> None:
        levels[pin] = high
        (pins[pin].drive_high if high else pins[pin].drive_low)()

    try:
        with build_inputs(
            [SPEC], pin_factory=factory, on_interaction=seen.append, clock=FakeClock()
        ) as bank:
            previous: str | None = None
            for direction in turns:
                for pin, high in detent(direction):
                    for _ in range(data.draw(st.integers(0, 8), label="bounces")):
                        set_level(pin, high)
                        set_level(pin, not high)
                        if previous and data.draw(st.booleans(), label="other chatters"):
                            set_level(previous, not levels[previous])
                            set_level(previous, not levels[previous])
                    set_level(pin, high)
                    previous = pin
            steps = bank.device("dial").steps
    finally:
        factory.reset()
    assert steps == sum(turns)
    assert [i.input for i in seen] == ["dial_cw" if t > 0 else "dial_ccw" for t in turns]


def test_the_simulators_bouncing_turns_count_once_each() -> None:
    factory = MockFactory()
    spec = RotaryInput(name="dial", a_pin=20, b_pin=21)  # 5 steps per interaction
    seen: list[Interaction] = []
    rng = random.Random(7)
    clock = FakeClock()
    try:
        with build_inputs([spec], pin_factory=factory, on_interaction=seen.append, clock=clock):
            for direction in (1, 1, -1, 1, -1, -1):
                turn = gesture(SignalModel(), "rotary", rng, steps=5 * direction)
                assert len(turn.edges) > 20  # 5 detents, 4 transitions each, plus bounce
                play(turn, drive(factory, {"a": 20, "b": 21}), clock.advance)
    finally:
        factory.reset()
    assert [i.input for i in seen] == [
        "dial_cw",
        "dial_cw",
        "dial_ccw",
        "dial_cw",
        "dial_ccw",
        "dial_ccw",
    ]
