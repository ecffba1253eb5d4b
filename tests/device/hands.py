"""Pins driven as hands and sensors drive them, for the agent's tests.

On a ``FakeClock`` (``press``): a clean press held ``hold`` seconds, then ``gap`` seconds of
release, time passing on the clock between the edges, so the agent's debounce sees
levels that hold. In real time (``play_real``): a gesture of ``simulator.signals`` (the
simulator's signal model: bounce on both edges, flicker, re-triggers) slept edge by edge.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from gpiozero.pins.mock import MockFactory

from device.clock import FakeClock
from simulator.signals import Bounce, ButtonSignal, Gesture, SignalModel, Span, gesture, play

ISSUE_PRESS = ButtonSignal(  # the press of the report: 40 ms of chatter every 2 ms ...
    press_bounce=Bounce(duration=Span(low=0.04, high=0.04), period=0.002, jitter=0),
    hold=Span(low=0.15, high=0.15),  # ... held 150 ms, released with 10-20 ms of bounce
    release_bounce=Bounce(duration=Span(low=0.01, high=0.02), period=0.002, jitter=0.5),
)
"""An arcade button as issue 13 reported it: with 300 ms idle, 200 presses counted 408."""
IDLE_S = 0.3


def press(
    factory: MockFactory,
    clock: FakeClock,
    pin: int = 17,
    *,
    times: int = 1,
    hold: float = 0.1,
    gap: float = 0.1,
) -> None:
    """``times`` clean presses of an active-low input (button, beam) on ``pin``."""
    mock = factory.pin(pin)
    for _ in range(times):
        mock.drive_low()
        clock.advance(hold)
        mock.drive_high()
        clock.advance(gap)


def drive(factory: MockFactory, pins: dict[str, int]) -> Callable[[str, bool], None]:
    """A ``drive(role, high)`` for ``simulator.signals.play`` on these mock pins."""

    def set_level(role: str, high: bool) -> None:
        mock = factory.pin(pins[role])
        if high:
            mock.drive_high()
        else:
            mock.drive_low()

    return set_level


def play_real(gesture: Gesture, factory: MockFactory, pins: dict[str, int]) -> None:
    """Drive ``gesture`` in real time (each wait relative to the edge before it)."""
    play(gesture, drive(factory, pins), time.sleep)


def press_many(
    factory: MockFactory, pin: int, signal: ButtonSignal, times: int, idle: float, seed: int
) -> None:
    """``times`` presses of ``signal`` on ``pin`` in real time, ``idle`` seconds apart."""
    rng = random.Random(seed)
    model = SignalModel(button=signal)
    for _ in range(times):
        play_real(gesture(model, "button", rng), factory, {"pin": pin})
        time.sleep(idle)


def in_parallel(*jobs: Callable[[], None]) -> None:
    """Run ``jobs`` each in a thread of its own (hands on several buttons) and wait."""
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
