"""Interaction rules: raw input levels in, counted ``Interaction`` values out.

No gpiozero here (``device.gpio.inputs`` wires the pins to these methods), so every rule is
tested with a fake clock and no pins. The rules per kind are listed in ``device.settings.wiring``.

**Debounce on a stable level, on both edges.** Real switches bounce when they close *and*
when they open (arcade buttons 1-40 ms on the press, 5-20 ms on the release), IR beams
flicker at the edge of the beam, a PIR drops out and re-triggers while someone stands in
front of it. So an input's level change counts only once the raw level has *held* the new
level for the input's debounce time (``press_debounce`` going active, ``release_debounce``
going back): a burst of edges shorter than that changes nothing, whichever edge it is on.
A press is counted when its level is confirmed; a hold runs from the stable press to the
stable release. Every interaction is stamped with the time its stable level *began* (the
first edge of the run that held), not the time the debounce confirmed it.

**Confirmation works on the injected clock.** A level is confirmed when the next edge
arrives (it held long enough before it) or when the agent's worker calls ``settle()``,
which it does every turn and before answering any request (``device.runtime.worker``), waking up
for ``due()``. No threading timer is involved, so the simulator's clock, which jumps, and
a real Pi's clock behave alike.

Edges arrive from whatever thread gpiozero fires in (the caller of ``drive_low()`` on a
MockPin, a driver thread on a Pi, a sensor's sampling thread), so state is kept under one
lock, the clock is read inside it (two threads then agree on the order of events), and
``emit`` must only hand off (the agent's queue ``put``), never do I/O.

Rotary encoders are not debounced by time: gpiozero's quadrature state machine only
counts a step after the full sequence of both channels, and contact bounce toggles one
channel back and forth between two neighbouring states, which never completes one
(``tests/device/test_rotary_bounce.py`` holds that over generated bounce patterns).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from device.core.clock import Clock
from device.core.events import Interaction
from device.settings.wiring import ButtonInput, InputSpec, RotaryInput


class Watcher(Protocol):
    """Who hears every confirmed level change and turn (the behaviour engine); it must only
    hand off (a queue ``put``): it runs on the counting path."""

    def changed(self, name: str, active: bool, at: float) -> None:
        """Input ``name``'s stable level is ``active`` since monotonic time ``at``."""
        ...

    def turned(self, name: str, *, clockwise: bool, at: float) -> None:
        """Rotary input ``name`` completed one interaction's worth of steps at ``at``."""
        ...


class Settling(Protocol):
    """What the worker drives: levels that settle with time alone, no edge needed."""

    def due(self) -> float | None:
        """Monotonic time at which the earliest pending level will have held long enough."""
        ...

    def settle(self) -> list[Interaction]:
        """Confirm every level that has held long enough by now; its interactions."""
        ...


@dataclass(slots=True)
class _Level:
    """One input's debounce state: the confirmed level and the raw one."""

    press_s: float
    release_s: float
    stable: bool = False
    """The confirmed level (True: active)."""
    raw: bool = False
    """The pin's level as of its last edge."""
    since: float = 0.0
    """When ``raw`` began (monotonic)."""


class InteractionRules:
    """The rules of one exhibit's inputs; gpiozero callbacks call ``level`` and ``stepped``."""

    def __init__(
        self,
        specs: Iterable[InputSpec],
        *,
        clock: Clock,
        emit: Callable[[Interaction], None],
        watch: Watcher | None = None,
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._clock = clock
        self._emit = emit
        self._watch = watch
        self._lock = threading.Lock()
        self._levels = {
            name: _Level(spec.press_debounce, spec.release_debounce)
            for name, spec in self._specs.items()
            if not isinstance(spec, RotaryInput)
        }
        self._pressed_at: dict[str, float] = {}
        self._steps: dict[str, int] = {}  # signed partial count: + clockwise, - counter

    # -- levels ------------------------------------------------------------------------

    def start(self, name: str, active: bool) -> None:
        """The input's level when its device was set up: the stable level, nothing counted."""
        with self._lock:
            state = self._levels[name]
            state.stable = state.raw = active
            state.since = self._clock.monotonic()

    def level(self, name: str, active: bool) -> None:
        """An edge: the input's raw level is now ``active`` (called from gpiozero threads)."""
        found: list[Interaction] = []
        changes: list[tuple[str, bool, float]] = []
        with self._lock:
            now = self._clock.monotonic()
            state = self._levels[name]
            if state.raw != state.stable and now - state.since >= self._wait(state):
                self._confirm(name, state, now, found, changes)
            if active != state.raw:
                state.raw = active
                state.since = now
                if active != state.stable and self._wait(state) <= 0:
                    self._confirm(name, state, now, found, changes)
        for item in found:
            self._emit(item)
        self._tell(changes)

    def due(self) -> float | None:
        """Monotonic time at which the earliest pending level will have held long enough."""
        with self._lock:
            pending = [
                state.since + self._wait(state)
                for state in self._levels.values()
                if state.raw != state.stable
            ]
        return min(pending, default=None)

    def settle(self) -> list[Interaction]:
        """Confirm every level that has held long enough by now (the worker's turn)."""
        found: list[Interaction] = []
        changes: list[tuple[str, bool, float]] = []
        with self._lock:
            now = self._clock.monotonic()
            for name, state in self._levels.items():
                if state.raw != state.stable and now - state.since >= self._wait(state):
                    self._confirm(name, state, now, found, changes)
        self._tell(changes)
        return found

    def _tell(self, changes: list[tuple[str, bool, float]]) -> None:
        if self._watch is not None:
            for name, active, at in changes:
                self._watch.changed(name, active, at)

    @staticmethod
    def _wait(state: _Level) -> float:
        return state.press_s if state.raw else state.release_s

    def _confirm(
        self,
        name: str,
        state: _Level,
        now: float,
        found: list[Interaction],
        changes: list[tuple[str, bool, float]],
    ) -> None:
        """``state.raw`` held long enough: it is the stable level from ``state.since`` on."""
        state.stable = state.raw
        changes.append((name, state.stable, state.since))
        at = state.since
        spec = self._specs[name]
        if state.stable:
            found.append(Interaction(name, self._wall_at(at, now), at))
            if isinstance(spec, ButtonInput) and spec.hold_s is not None:
                self._pressed_at[name] = at
            return
        pressed = self._pressed_at.pop(name, None)
        if (
            isinstance(spec, ButtonInput)
            and spec.hold_s is not None
            and pressed is not None
            and at - pressed >= spec.hold_s
        ):
            found.append(Interaction(spec.hold_name, self._wall_at(at, now), at, name))

    def _wall_at(self, at: float, now: float) -> datetime:
        # The wall clock as it was at monotonic ``at`` (earlier than now by the debounce).
        return self._clock.wall() - timedelta(seconds=now - at)

    # -- rotary encoders ---------------------------------------------------------------

    def stepped(self, name: str, *, clockwise: bool) -> None:
        """A rotary encoder moved one detent step (gpiozero's state machine decided)."""
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
                mono = self._clock.monotonic()
                wall = self._clock.wall()
        if complete:
            count_name = spec.cw_name if clockwise else spec.ccw_name
            self._emit(Interaction(count_name, wall, mono, name))
            if self._watch is not None:
                self._watch.turned(name, clockwise=clockwise, at=mono)
