"""Behaviours: declarative rules from an input's event to an output's action, off the counting path.

The interaction rules (``device.gpio.interactions``) tell the engine of every confirmed
level change and turn through ``changed()`` and ``turned()``, which only put the fact on
the engine's own queue: counting never waits for a lamp, a servo or a motor. The engine's
thread turns facts into events and runs the matching rules on the outputs
(``device.gpio.outputs``), and keeps time on the agent's injected clock, so tests and the
simulator drive it like the interaction rules (an injected clock is looked at every 50 ms;
on the machine's own clock the engine sleeps until its next deadline):

- events by input kind: button ``press``, ``release``, ``hold`` (pressed ``hold_s``, while
  still pressed); beam ``beam_broken``, ``beam_restored``; motion ``motion``; distance
  ``distance_under`` (a visitor within its ``threshold_m``); rotary ``rotation`` (each
  interaction's worth of steps; a rule's ``direction`` narrows it to ``cw`` or ``ccw``);
- an action with ``seconds`` lasts that long, then the output goes back to its safe state
  (a new action on the output before then replaces it: a second press restarts the 5 s);
- attract mode: after ``attract.idle_s`` with no event its actions run, until the next
  event puts those outputs back in their safe state;
- quiet hours (``quiet_hours.start`` to ``end``, the Pi's local time): no rule or attract
  mode drives anything, and every output rests in its safe state. Counting goes on. The
  Pi's clock decides: one that is wrong is quiet at the wrong time (docs/controller.md).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from device.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

POLL_S = 0.05
"""Longest real-time wait between looks at an injected clock (the simulator's jumps)."""
REAL_CLOCK_WAIT_S = 30.0
"""On the machine's own clock the engine sleeps until its next deadline, but at most this
long, so that quiet hours begin on time with nothing else to do (an idle Pi wakes twice a
minute, not twenty times a second)."""
_ACTIVE = {
    "button": "press",
    "beam": "beam_broken",
    "motion": "motion",
    "distance": "distance_under",
}
_INACTIVE = {"button": "release", "beam": "beam_restored"}


class Outputs(Protocol):
    """What the engine drives (``device.gpio.outputs.OutputBank``)."""

    def act(self, name: str, action: str, settings: Mapping[str, Any]) -> None:
        """Carry out one action now."""
        ...

    def safe(self, name: str) -> None:
        """Put one output in its safe state."""
        ...

    @property
    def names(self) -> list[str]:
        """Every output."""
        ...


@dataclass(frozen=True, slots=True)
class _Fact:
    name: str
    at: float
    """When it happened (the clock's monotonic time): timed actions run from then."""
    active: bool | None = None
    clockwise: bool | None = None


_STOP = object()


@dataclass(frozen=True, slots=True)
class _Settle:
    done: threading.Event


class Behaviours:
    """One exhibit's behaviour rules, attract mode and quiet hours, on a thread of their own."""

    def __init__(
        self,
        *,
        rules: Iterable[Mapping[str, Any]],
        inputs: Mapping[str, Mapping[str, Any]],
        outputs: Outputs,
        clock: Clock,
        attract: Mapping[str, Any] | None = None,
        quiet_hours: Mapping[str, Any] | None = None,
    ) -> None:
        self._rules: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for rule in rules:
            self._rules.setdefault((rule["input"], rule["event"]), []).append(rule)
        self._inputs = inputs
        self._outputs = outputs
        self._clock = clock
        self._attract = attract
        self._quiet = quiet_hours
        self._facts: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._until: dict[str, float] = {}  # output -> when its timed action ends
        self._holds: dict[str, float] = {}  # button -> when a press becomes a hold
        self._last_event = clock.monotonic()
        self._attracting = False
        self._quiet_now = False
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._longest_wait = REAL_CLOCK_WAIT_S if isinstance(clock, SystemClock) else POLL_S
        self.acted = 0
        """Actions carried out (tests and the benchmark read it)."""

    # -- the counting path: hand off only ----------------------------------------------

    def changed(self, name: str, active: bool, at: float) -> None:
        """An input's stable level changed at ``at`` (called by the interaction rules)."""
        self._facts.put(_Fact(name, at, active=active))

    def turned(self, name: str, *, clockwise: bool, at: float) -> None:
        """A rotary input turned an interaction's worth (called by the interaction rules)."""
        self._facts.put(_Fact(name, at, clockwise=clockwise))

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until the engine has handled every fact handed to it so far and has looked
        at the clock as it is now (timed actions ended, attract mode, quiet hours); False if
        that takes longer than ``timeout`` or the engine is not running.

        For a clock that jumps (the simulator's), so that what the outputs do can be read
        at a simulated moment; on a Pi the engine simply keeps up.
        """
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        self._facts.put(_Settle(done))
        return done.wait(timeout)

    # -- the engine's thread -------------------------------------------------------------

    def start(self) -> None:
        """Start the engine's thread (outputs are in their safe state already)."""
        self._last_event = self._clock.monotonic()
        self._thread = threading.Thread(target=self._run, name="behaviours", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; the caller then closes the outputs (back to their safe state)."""
        if self._thread is not None:
            self._stopping.set()  # what is still queued is dropped: the outputs go safe
            self._facts.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                fact = self._facts.get(timeout=self._wait())
            except queue.Empty:
                fact = None
            if fact is _STOP or self._stopping.is_set():
                return
            try:
                self._turn(fact if isinstance(fact, _Fact) else None)
            except Exception:  # an output failing must not stop the others, nor counting
                log.exception("behaviour failed")
            if isinstance(fact, _Settle):
                fact.done.set()

    def _wait(self) -> float:
        now = self._clock.monotonic()
        deadlines = [*self._until.values(), *self._holds.values()]
        if self._attract is not None and not self._attracting:
            deadlines.append(self._last_event + float(self._attract["idle_s"]))
        nearest = min(deadlines, default=now + self._longest_wait)
        return min(max(nearest - now, 0.0), self._longest_wait)

    def _turn(self, fact: _Fact | None) -> None:
        now = self._clock.monotonic()
        self._check_quiet()
        if fact is not None:
            for event, direction in self._events(fact, fact.at):
                self._on_event(fact.name, event, direction, fact.at)
        for output, until in list(self._until.items()):
            if now >= until:
                del self._until[output]
                self._outputs.safe(output)
        for button, at in list(self._holds.items()):
            if now >= at:
                del self._holds[button]
                self._on_event(button, "hold", None, now)
        if (
            self._attract is not None
            and not self._attracting
            and not self._quiet_now
            and now - self._last_event >= float(self._attract["idle_s"])
        ):
            self._attracting = True
            for action in self._attract["actions"]:
                self._act(action, now, timed=False)

    def _events(self, fact: _Fact, now: float) -> list[tuple[str, str | None]]:
        kind = str(self._inputs.get(fact.name, {}).get("kind", ""))
        if fact.clockwise is not None:
            return [("rotation", "cw" if fact.clockwise else "ccw")]
        if fact.active:
            hold_s = self._inputs[fact.name].get("hold_s") if kind == "button" else None
            if hold_s is not None:
                self._holds[fact.name] = now + float(hold_s)
            event = _ACTIVE.get(kind)
        else:
            self._holds.pop(fact.name, None)
            event = _INACTIVE.get(kind)
        return [] if event is None else [(event, None)]

    def _on_event(self, name: str, event: str, direction: str | None, now: float) -> None:
        # Facts may come out of order: a level confirmed by the worker's settle (a release
        # with no edge after it) is handed over at the worker's next turn, after a turn
        # that counted at once. Idle time runs from the newest event, never back.
        self._last_event = max(self._last_event, now)
        if self._attracting:
            self._attracting = False
            for action in self._attract["actions"] if self._attract else ():
                self._outputs.safe(action["output"])
        if self._quiet_now:
            return
        for rule in self._rules.get((name, event), ()):
            if rule.get("direction") in (None, direction):
                self._act(rule, now, timed=True)

    def _act(self, rule: Mapping[str, Any], now: float, *, timed: bool) -> None:
        output = rule["output"]
        self._until.pop(output, None)
        self._outputs.act(output, rule["action"], rule)
        self.acted += 1
        if timed and "seconds" in rule:
            self._until[output] = now + float(rule["seconds"])

    def _check_quiet(self) -> None:
        if self._quiet is None:
            return
        quiet = in_quiet_hours(self._clock.wall().astimezone(), self._quiet)
        if quiet and not self._quiet_now:
            self._until.clear()
            self._attracting = False
            for output in self._outputs.names:
                self._outputs.safe(output)
        self._quiet_now = quiet


def in_quiet_hours(local: datetime, hours: Mapping[str, Any]) -> bool:
    """Whether local time ``local`` is within ``start`` (included) to ``end`` (not)."""
    now = local.strftime("%H:%M")
    start, end = str(hours["start"]), str(hours["end"])
    if start < end:
        return start <= now < end
    return now >= start or now < end  # across midnight
