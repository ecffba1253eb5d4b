"""Pins driven as hands and sensors drive them, for the agent's tests.

On a ``FakeClock`` (``press``): a clean press held ``hold`` seconds, then ``gap`` seconds of
release, time passing on the clock between the edges, so the agent's debounce sees
levels that hold. In real time (``play_real``): a gesture of ``simulator.signals`` (the
simulator's signal model: bounce on both edges, flicker, re-triggers) slept edge by edge.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
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


BOUNCE_RUN_S = 0.05
"""A planned level shorter than this is bounce (holds and idles are longer)."""
STALLED_S = 0.025
"""A bounce level that actually lasted this long (planned 1-3 ms) was stretched by a stall."""


def press_many(
    factory: MockFactory,
    signals: dict[int, ButtonSignal],
    times: int,
    idle: float,
    seed: int,
) -> dict[int, int]:
    """``times`` presses on each pin of ``signals`` in real time, ``idle`` s apart; one thread.

    Every wait is relative to the pin's own previous edge, so a stalled thread makes a
    level last longer, never shorter. A bounce level stretched past ``STALLED_S`` by the
    machine (a descheduled process on a loaded machine) was, physically, a level held:
    two of them in one press can make a second press. Returns, per pin, how many presses
    the stalls could have added (0 on a machine that kept time), so a test is exact for
    every press driven as planned (``assert_counted``) and says how many were not.
    """
    rng = random.Random(seed)
    plans: dict[int, deque[tuple[float, bool, bool]]] = {}
    for pin, signal in signals.items():
        model = SignalModel(button=signal)
        steps: deque[tuple[float, bool, bool]] = deque()  # (gap, high, last of a press)
        for n in range(times):
            edges = gesture(model, "button", rng).edges
            previous = 0.0
            for index, edge in enumerate(edges):
                gap = edge.at - previous if index else (idle if n else 0.0)
                steps.append((gap, edge.high, index == len(edges) - 1))
                previous = edge.at
        plans[pin] = steps
    start = time.monotonic()
    last = dict.fromkeys(plans, start)
    stretched = dict.fromkeys(plans, 0)
    possible_extra = dict.fromkeys(plans, 0)
    while any(plans.values()):
        pin = min((p for p in plans if plans[p]), key=lambda p: last[p] + plans[p][0][0])
        gap, high, final = plans[pin].popleft()
        wait = last[pin] + gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        mock = factory.pin(pin)
        if high:
            mock.drive_high()
        else:
            mock.drive_low()
        now = time.monotonic()
        # The level before this edge was bounce if it was planned short; did it stay so?
        if 0 < gap < BOUNCE_RUN_S and now - last[pin] >= STALLED_S:
            stretched[pin] += 1
        last[pin] = now
        if final:
            possible_extra[pin] += stretched[pin] // 2  # a second press: two held levels
            stretched[pin] = 0
    time.sleep(idle)
    return possible_extra


def assert_counted(
    counted: dict[str, int], expected: dict[str, int], stretched: dict[str, int]
) -> None:
    """``counted == expected``, except that a press the machine stretched may count twice.

    ``stretched``: by count name, the presses stalls could have added (``press_many``).
    """
    for name, count in expected.items():
        extra = stretched.get(name, 0)
        assert count <= counted.get(name, 0) <= count + extra, (counted, expected, stretched)
    assert set(counted) == set(expected), (counted, expected)
