"""Interaction rules: raw input edges in, counted ``Interaction`` values out.

No gpiozero here (``device.inputs`` wires the devices to these methods), so every rule is
tested with a fake clock and no pins. The rules per kind are listed in ``device.wiring``.

Debouncing is ours: MockPin ignores ``bounce_time``, and on a real Pi we want exactly the
behaviour we test. An edge within ``debounce`` seconds (monotonic) of the previous
*accepted* one on the same input is dropped.

Edges arrive from whatever thread gpiozero fires in (the caller of ``drive_low()`` on a
MockPin, a driver thread on a Pi, a sensor's sampling thread), so state is kept under a
lock and ``emit`` must only hand off (the agent's queue ``put``), never do I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from device.clock import Clock
from device.events import Interaction
from device.wiring import ButtonInput, InputSpec, RotaryInput


class Debouncer:
    """Per-input debounce on monotonic time; safe to call from several threads."""

    def __init__(self, windows: dict[str, float]) -> None:
        self._windows = dict(windows)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, name: str, mono: float) -> bool:
        """True if an event on ``name`` at ``mono`` counts, and remember it if so."""
        window = self._windows.get(name, 0.0)
        with self._lock:
            last = self._last.get(name)
            if last is not None and mono - last < window:
                return False
            self._last[name] = mono
            return True


class InteractionRules:
    """The rules of one exhibit's inputs; gpiozero callbacks call the three edge methods."""

    def __init__(
        self,
        specs: Iterable[InputSpec],
        *,
        clock: Clock,
        emit: Callable[[Interaction], None],
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._clock = clock
        self._emit = emit
        self._debouncer = Debouncer({name: s.debounce for name, s in self._specs.items()})
        self._lock = threading.Lock()
        self._pressed_at: dict[str, float] = {}
        self._steps: dict[str, int] = {}  # signed partial count: + clockwise, - counter

    def activated(self, name: str) -> None:
        """The input went active: a press, a presence start, a visitor in range, a break."""
        mono = self._clock.monotonic()
        if not self._debouncer.accept(name, mono):
            return
        spec = self._specs[name]
        if isinstance(spec, ButtonInput) and spec.hold_s is not None:
            with self._lock:
                self._pressed_at[name] = mono
        self._emit(Interaction(name, self._clock.wall(), mono))

    def released(self, name: str) -> None:
        """A button was released: a hold if the accepted press lasted ``hold_s``."""
        spec = self._specs[name]
        if not isinstance(spec, ButtonInput) or spec.hold_s is None:
            return
        mono = self._clock.monotonic()
        with self._lock:
            pressed = self._pressed_at.pop(name, None)
        if pressed is not None and mono - pressed >= spec.hold_s:
            self._emit(Interaction(spec.hold_name, self._clock.wall(), mono, name))

    def stepped(self, name: str, *, clockwise: bool) -> None:
        """A rotary encoder moved one detent step."""
        spec = self._specs[name]
        assert isinstance(spec, RotaryInput)
        direction = 1 if clockwise else -1
        with self._lock:
            partial = self._steps.get(name, 0)
            # Turning back restarts the count: a wiggle is not two half-turns.
            partial = partial + direction if partial * direction >= 0 else direction
            complete = abs(partial) >= spec.steps_per_interaction
            self._steps[name] = 0 if complete else partial
        if complete:
            count_name = spec.cw_name if clockwise else spec.ccw_name
            mono = self._clock.monotonic()
            self._emit(Interaction(count_name, self._clock.wall(), mono, name))
