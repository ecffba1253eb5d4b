"""Driving an exhibit's inputs on gpiozero's ``MockFactory`` pins: tests and the simulator.

Never imported on a Pi: ``device.gpio.inputs`` loads ``prepare_distance`` only when its
pin factory is a mock one. Buttons, beams, motion and line sensors need nothing of this
module (drive their pins low or high; ``simulator.signals`` makes real hardware's edges).
"""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import MockTriggerPin

from device.gpio.inputs import NOBODY_ECHO_S, SPEED_OF_SOUND
from device.settings.wiring import DistanceInput, RotaryInput


def prepare_distance(factory: Any, spec: DistanceInput) -> None:
    """Make the trigger pin a ``MockTriggerPin`` whose echo says "nobody is there"."""
    echo = factory.pin(spec.echo_pin)
    factory.pin(spec.trigger_pin, pin_class=MockTriggerPin, echo_pin=echo, echo_time=NOBODY_ECHO_S)


def set_mock_distance(factory: Any, spec: DistanceInput, metres: float | None) -> None:
    """Put a mock visitor ``metres`` from a distance sensor (None: nobody there)."""
    echo_s = NOBODY_ECHO_S if metres is None else 2 * metres / SPEED_OF_SOUND
    factory.pin(spec.trigger_pin).echo_time = echo_s


def turn(factory: Any, spec: RotaryInput, steps: int) -> None:
    """Turn a mock rotary encoder ``steps`` detents (negative: counter-clockwise)."""
    first, second = (spec.a_pin, spec.b_pin) if steps > 0 else (spec.b_pin, spec.a_pin)
    a, b = factory.pin(first), factory.pin(second)
    for _ in range(abs(steps)):
        # One detent of gpiozero's quadrature sequence (pins pulled up, active low).
        a.drive_low()
        b.drive_low()
        a.drive_high()
        b.drive_high()
