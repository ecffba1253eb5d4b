"""The signals real inputs make: what the simulator drives mock pins with, edge by edge.

A visitor does one thing (presses a button, walks through a beam, stands in front of a
PIR, turns a dial); the hardware turns it into edges, and the agent must count the thing,
not the edges. Per input kind, by default (measured on real parts, see
``/work/shared/FINDINGS.md`` and the datasheets quoted in docs/simulator.md):

- **button**: contact bounce when it closes (1-40 ms) and when it opens (5-20 ms),
  toggling every 2 ms give or take half of that, around a hold of 80-250 ms;
- **beam**: the receiver flickers for up to 30 ms at both edges of a break (a hand or a
  body crossing the edge of the beam), around a break of 0.15-0.6 s;
- **motion** (PIR): a presence of 3-20 s; the module's output drops out for 0.3-2.5 s
  and re-triggers every 2-4 s while the visitor stays;
- **rotary**: at every quadrature transition, the contact of the channel that changes
  chatters for up to 3 ms; one detent takes 20-80 ms.

``SignalModel`` holds these parameters (a scenario file sets any of them under
``signals:``); ``gesture()`` turns one interaction into a ``Gesture``: edges in time on
named pins (``pin``, or the encoder's ``a`` and ``b``), and ``play()`` drives a gesture on
mock pins, letting time pass between the edges through a callback (the simulated clock,
or real sleeps). Every random choice comes from the ``random.Random`` given, so a
scenario's seed repeats a run edge for edge.

What a "bounce" may be is bounded by physics, not by the agent: a level that holds as
long as the agent's debounce is a real press. ``SignalModel.problems()`` says where a
model would produce such levels, and scenario files are checked with it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")


def parse_seconds(value: Any) -> Any:
    """``0.002``, ``"2ms"``, ``"1.5s"`` -> seconds (a float); anything else is left to pydantic."""
    if isinstance(value, str):
        found = _SECONDS.match(value)
        if found is None:
            raise ValueError(f"a time is seconds or like 2ms, 1.5s (got {value!r})")
        number = float(found.group(1))
        return number / 1000 if found.group(2) == "ms" else number
    return value


Seconds = Annotated[float, BeforeValidator(parse_seconds), Field(ge=0, le=600)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: Any) -> Any:
        # A part given as a table changes only what it names: ``press_bounce: {period: 3ms}``
        # keeps the default duration and jitter of a button's press bounce.
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field and isinstance(value, dict) and isinstance(field.default, BaseModel):
                merged[name] = {**field.default.model_dump(), **value}
        return merged


class Span(_Model):
    """A random length between ``low`` and ``high`` seconds (YAML: ``[80ms, 250ms]`` or one)."""

    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.low > self.high:
            raise ValueError(f"give [shortest, longest] (got [{self.low:g}, {self.high:g}])")
        return self

    def draw(self, rng: random.Random) -> float:
        """A length drawn uniformly from the span."""
        return rng.uniform(self.low, self.high)


def _span(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"low": value[0], "high": value[1]}
    if isinstance(value, int | float | str):
        return {"low": value, "high": value}
    return value


Spans = Annotated[Span, BeforeValidator(_span)]
"""A Span written as ``[low, high]`` or one value."""


class Bounce(_Model):
    """Contact bounce (or flicker) on one edge: toggles before the level settles."""

    duration: Spans = Span(low=0, high=0)
    """How long the contacts chatter (0: a clean edge)."""
    period: Seconds = 0.002
    """Mean time between two toggles."""
    jitter: float = Field(default=0.5, ge=0, lt=1)
    """Each interval is ``period`` times 1 +- up to this."""

    @property
    def longest_level(self) -> float:
        """The longest any level lasts inside the burst (0 for a clean edge)."""
        return 0.0 if self.duration.high == 0 else self.period * (1 + self.jitter)

    @property
    def longest(self) -> float:
        """The longest the burst lasts."""
        return 0.0 if self.duration.high == 0 else self.duration.high + self.longest_level


class ButtonSignal(_Model):
    """A push button: bounce on the press and on the release, around a hold."""

    press_bounce: Bounce = Bounce(duration=Span(low=0.001, high=0.040), period=0.002)
    release_bounce: Bounce = Bounce(duration=Span(low=0.005, high=0.020), period=0.002)
    hold: Spans = Span(low=0.08, high=0.25)


class BeamSignal(_Model):
    """An IR break beam: flicker at both edges of a break."""

    flicker: Bounce = Bounce(duration=Span(low=0.0, high=0.030), period=0.003)
    broken: Spans = Span(low=0.15, high=0.6)


class MotionSignal(_Model):
    """A PIR module: a presence whose output drops out and re-triggers."""

    presence: Spans = Span(low=3.0, high=20.0)
    retrigger_every: Spans = Span(low=2.0, high=4.0)
    """How long the output stays high before it drops out while someone stays."""
    dropout: Spans = Span(low=0.3, high=2.5)
    """How long it stays low before it re-triggers."""


class RotarySignal(_Model):
    """An incremental encoder: contact bounce at every transition of either channel."""

    bounce: Bounce = Bounce(duration=Span(low=0.0, high=0.003), period=0.0005)
    detent: Spans = Span(low=0.02, high=0.08)
    """How long one detent step takes (four transitions)."""


class SignalModel(_Model):
    """Per input kind, the signals of one interaction (defaults: see the module docstring)."""

    button: ButtonSignal = ButtonSignal()
    beam: BeamSignal = BeamSignal()
    motion: MotionSignal = MotionSignal()
    rotary: RotarySignal = RotarySignal()

    def longest(self, kind: str, steps: int = 1) -> float:
        """Seconds one interaction of ``kind`` takes at most, first edge to last."""
        if kind == "button":
            b = self.button
            return b.press_bounce.longest + b.hold.high + b.release_bounce.longest
        if kind == "beam":
            return 2 * self.beam.flicker.longest + self.beam.broken.high
        if kind == "motion":
            m = self.motion
            return m.presence.high + m.retrigger_every.high + m.dropout.high
        if kind == "rotary":
            r = self.rotary
            return abs(steps) * r.detent.high + r.bounce.longest
        raise ValueError(f"no signal model for a {kind!r} input")

    def problems(self, debounce: Mapping[str, tuple[float, float]]) -> list[tuple[str, str]]:
        """Where this model makes what the agent must count as real (location, message).

        ``debounce``: the agent's (press, release) debounce per kind. A bounce level that
        holds as long as that is a press; a hold shorter than it is no press at all.
        """
        found: list[tuple[str, str]] = []

        def bounce(where: str, burst: Bounce, kind: str) -> None:
            limit = min(debounce.get(kind, (0.0, 0.0)))
            if burst.longest_level and burst.longest_level >= limit:
                found.append(
                    (
                        where,
                        f"a level inside this bounce can last up to "
                        f"{burst.longest_level * 1000:g} ms, not shorter than the agent's "
                        f"{limit * 1000:g} ms {kind} debounce: that is a real press, not bounce "
                        "(shorten period or jitter)",
                    )
                )

        def at_least(where: str, span: Span, kind: str, edge: int, what: str) -> None:
            limit = debounce.get(kind, (0.0, 0.0))[edge]
            if span.low <= limit:
                found.append(
                    (
                        where,
                        f"{what} as short as {span.low * 1000:g} ms is not longer than the "
                        f"agent's {limit * 1000:g} ms {kind} debounce: it would not count",
                    )
                )

        bounce("button.press_bounce", self.button.press_bounce, "button")
        bounce("button.release_bounce", self.button.release_bounce, "button")
        at_least("button.hold", self.button.hold, "button", 0, "a hold")
        bounce("beam.flicker", self.beam.flicker, "beam")
        at_least("beam.broken", self.beam.broken, "beam", 0, "a break")
        at_least("motion.retrigger_every", self.motion.retrigger_every, "motion", 0, "a trigger")
        limit = debounce.get("motion", (0.0, 0.0))[1]
        if self.motion.dropout.high >= limit:
            found.append(
                (
                    "motion.dropout",
                    f"a dropout of {self.motion.dropout.high:g} s is as long as the agent's "
                    f"{limit:g} s motion release debounce: one visitor would count twice",
                )
            )
        return found


CLEAN = SignalModel(
    button=ButtonSignal(press_bounce=Bounce(), release_bounce=Bounce()),
    beam=BeamSignal(flicker=Bounce()),
    motion=MotionSignal(retrigger_every=Span(low=600, high=600)),
    rotary=RotarySignal(bounce=Bounce()),
)
"""Edges as a textbook draws them: for comparison runs, never the default."""


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge: ``at`` seconds after the gesture began, pin ``pin`` driven ``high`` or low."""

    at: float
    pin: str
    high: bool


@dataclass(frozen=True, slots=True)
class Gesture:
    """The edges of one interaction, in time order."""

    edges: tuple[Edge, ...]

    @property
    def length(self) -> float:
        """Seconds from the first edge to the last."""
        return self.edges[-1].at if self.edges else 0.0


def burst(rng: random.Random, bounce: Bounce, *, at: float, pin: str, high: bool) -> list[Edge]:
    """The edges of one bouncing transition to ``high`` (or low), starting at ``at``."""
    edges = [Edge(at, pin, high)]
    end = at + bounce.duration.draw(rng)
    t, level = at, high
    if end > at:
        while True:
            t += bounce.period * (1 + rng.uniform(-bounce.jitter, bounce.jitter))
            if t >= end and level == high:
                break
            level = not level
            edges.append(Edge(t, pin, level))
    return edges


def gesture(model: SignalModel, kind: str, rng: random.Random, *, steps: int = 1) -> Gesture:
    """The edges of one interaction of ``kind`` (a rotary: ``steps`` detents, negative: ccw)."""
    if kind == "button":  # pulled up: pressed is low
        b = model.button
        edges = burst(rng, b.press_bounce, at=0.0, pin="pin", high=False)
        release = edges[-1].at + b.hold.draw(rng)
        edges += burst(rng, b.release_bounce, at=release, pin="pin", high=True)
    elif kind == "beam":  # pulled up: a broken beam is low
        f = model.beam.flicker
        edges = burst(rng, f, at=0.0, pin="pin", high=False)
        restore = edges[-1].at + model.beam.broken.draw(rng)
        edges += burst(rng, f, at=restore, pin="pin", high=True)
    elif kind == "motion":  # the PIR drives its output high
        edges = _presence(model.motion, rng)
    elif kind == "rotary":
        edges = _turn(model.rotary, rng, steps)
    else:
        raise ValueError(f"no signal model for a {kind!r} input")
    return Gesture(tuple(sorted(edges, key=lambda edge: edge.at)))


def _presence(m: MotionSignal, rng: random.Random) -> list[Edge]:
    stay = m.presence.draw(rng)
    edges = [Edge(0.0, "pin", True)]
    t = 0.0
    while True:
        high_until = t + m.retrigger_every.draw(rng)
        if high_until >= stay:
            break
        back = high_until + m.dropout.draw(rng)
        edges += [Edge(high_until, "pin", False), Edge(back, "pin", True)]
        t = back
    edges.append(Edge(max(stay, t + m.retrigger_every.low), "pin", False))
    return edges


def _turn(r: RotarySignal, rng: random.Random, steps: int) -> list[Edge]:
    # One detent of a quadrature encoder (both pins pulled up, high at rest): clockwise,
    # A falls, B falls, A rises, B rises; counter-clockwise the same with B leading.
    first, second = ("a", "b") if steps > 0 else ("b", "a")
    sequence = ((first, False), (second, False), (first, True), (second, True))
    edges: list[Edge] = []
    t = 0.0
    for _ in range(abs(steps)):
        quarter = r.detent.draw(rng) / 4
        for pin, high in sequence:
            edges += burst(rng, r.bounce, at=t, pin=pin, high=high)
            t += quarter
    return edges


def play(
    gesture: Gesture, drive: Callable[[str, bool], None], wait: Callable[[float], None]
) -> None:
    """Drive ``gesture``: ``wait(seconds)`` lets time pass, then ``drive(pin, high)``.

    Waits are relative to the previous edge, so a late edge (a stalled thread in real
    time) only makes a level last longer, never shorter.
    """
    previous = 0.0
    for edge in gesture.edges:
        if edge.at > previous:
            wait(edge.at - previous)
            previous = edge.at
        drive(edge.pin, edge.high)
