"""What is wired to the Pi: each input with its pins and interaction rule, and the indicator LED.

An input is declared once (TOML ``[[inputs]]`` or ``EXHIBIT_INPUTS`` JSON) and counts
under one or more *count names* (``broker.messages.InputName``):

=========  =====================  ==========================================================
kind       pins (BCM numbers)     what counts as one interaction, and under which name
=========  =====================  ==========================================================
button     ``pin``                ``name``: a press (pin pulled low).
                                  With ``hold_s``: also ``name_hold`` for a press held at
                                  least ``hold_s`` seconds, counted when it is released.
motion     ``pin``                ``name``: a presence start (the PIR output goes high).
distance   ``echo_pin``,          ``name``: a visitor entering the zone closer than
           ``trigger_pin``        ``threshold_m`` (HC-SR04; leaving and coming back counts again).
line       ``pin``                ``name``: a line sensor edge, ``count_on`` ``line`` (pin
                                  low) or ``no_line`` (a reflective beam break is a line sensor).
beam       ``pin``                ``name``: an IR break-beam receiver pulling the pin low
                                  (beam broken).
rotary     ``a_pin``, ``b_pin``   ``name_cw`` / ``name_ccw``: every ``steps_per_interaction``
                                  detent steps turned in one direction (default 5); turning
                                  back restarts the partial count of the other direction.
=========  =====================  ==========================================================

Debounce (``device.gpio.interactions``): a level change of an input counts only once the pin has
held the new level for ``press_debounce_s`` (going active: pressed, beam broken, motion, the
line state counted, a visitor in range) or ``release_debounce_s`` (going back);
``debounce_s`` sets both. Defaults per kind, in seconds (press / release):

=========  ===========  ===============================================================
kind       debounce     why
=========  ===========  ===============================================================
button     0.03 / 0.03  arcade and tactile buttons bounce 1-40 ms closing, 5-20 ms
                        opening, toggling every few ms: no bounce level holds 30 ms,
                        while a child mashing 8 times a second still holds each level
                        for 40 ms or more
beam       0.01 / 0.1   a marble breaks a beam for about 15 ms; the beam flickers at its
                        edge as a hand or a body leaves it, so it must stay clear 0.1 s
motion     0.1 / 3.0    a PIR output is clean but drops out for up to 2.5 s and
                        re-triggers while someone stays: one presence, not several
line       0.02 / 0.02  a line sensor flickers at the edge of the line
distance   0 / 0        gpiozero already takes the median of ``queue_len`` readings
=========  ===========  ===============================================================

A rotary encoder takes no debounce: gpiozero's quadrature state machine never turns
contact bounce into steps.

Sessions and the self-test speak of inputs by ``name``; counts use the count names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from broker.limits import INPUT_NAME_PATTERN
from device.settings.config_errors import raise_first
from device.settings.setting_types import Loc, Problem, current_values, read_fields, rule

PIN = rule(int, ge=0, le=27)
"""A BCM GPIO number on the 40-pin header."""


class InputKind(StrEnum):
    """What is wired: decides the gpiozero device and the interaction rule."""

    BUTTON = "button"
    MOTION = "motion"
    DISTANCE = "distance"
    LINE = "line"
    BEAM = "beam"
    ROTARY = "rotary"


DEFAULT_DEBOUNCE_S: dict[InputKind, tuple[float, float]] = {
    InputKind.BUTTON: (0.03, 0.03),
    InputKind.BEAM: (0.01, 0.1),
    InputKind.MOTION: (0.1, 3.0),
    InputKind.LINE: (0.02, 0.02),
    InputKind.DISTANCE: (0.0, 0.0),
}
"""(press, release) seconds a new level must hold, per kind (see the table above)."""

DEBOUNCE = rule(float, ge=0, le=60, optional=True)


def _not_for_rotary(value: float) -> float:
    raise ValueError(
        "a rotary encoder is not debounced by time (its quadrature state machine already "
        "ignores contact bounce); remove this setting"
    )


NO_DEBOUNCE = rule(float, optional=True, check=_not_for_rotary)


@dataclass(frozen=True, kw_only=True)
class _Checked:
    """A frozen dataclass whose fields are checked (and converted) when it is made."""

    def __post_init__(self) -> None:
        values, problems = read_fields(type(self), current_values(self))
        raise_first(problems)
        for name, value in values.items():
            object.__setattr__(self, name, value)


@dataclass(frozen=True, kw_only=True)
class _Input(_Checked):
    kind: str
    name: str = field(metadata=rule(str, pattern=INPUT_NAME_PATTERN))
    debounce_s: float | None = field(default=None, metadata=DEBOUNCE)
    """Seconds a new level must hold to count, on both edges (per-kind default)."""
    press_debounce_s: float | None = field(default=None, metadata=DEBOUNCE)
    """Going active (pressed, broken, motion, the line state counted): overrides debounce_s."""
    release_debounce_s: float | None = field(default=None, metadata=DEBOUNCE)
    """Going back to inactive: overrides debounce_s."""

    @property
    def press_debounce(self) -> float:
        """Seconds the active level must hold before it counts."""
        return self._debounce(self.press_debounce_s, 0)

    @property
    def release_debounce(self) -> float:
        """Seconds the inactive level must hold before it counts."""
        return self._debounce(self.release_debounce_s, 1)

    def _debounce(self, own: float | None, edge: int) -> float:
        if own is not None:
            return own
        if self.debounce_s is not None:
            return self.debounce_s
        return DEFAULT_DEBOUNCE_S.get(InputKind(self.kind), (0.0, 0.0))[edge]

    def pins(self) -> dict[str, int]:
        """Every GPIO this input uses, by setting name."""
        raise NotImplementedError

    def count_names(self) -> list[str]:
        """The names this input's interactions are counted under."""
        return [self.name]


@dataclass(frozen=True, kw_only=True)
class _SinglePin(_Input):
    pin: int = field(metadata=PIN)

    def pins(self) -> dict[str, int]:
        """The one pin of this input."""
        return {"pin": self.pin}


@dataclass(frozen=True, kw_only=True)
class ButtonInput(_SinglePin):
    """A push button to ground (internal pull-up): presses, and optionally long holds."""

    kind: str = field(default="button", metadata=rule(str, choices=("button",)))
    hold_s: float | None = field(default=None, metadata=rule(float, gt=0, le=60, optional=True))
    """A press held this long also counts as ``name_hold``."""

    def count_names(self) -> list[str]:
        """``name``, plus ``name_hold`` when holds are counted."""
        return [self.name, self.hold_name] if self.hold_s is not None else [self.name]

    @property
    def hold_name(self) -> str:
        """The count name of long holds."""
        return f"{self.name}_hold"


@dataclass(frozen=True, kw_only=True)
class MotionInput(_SinglePin):
    """A PIR motion sensor: a presence start is an interaction."""

    kind: str = field(default="motion", metadata=rule(str, choices=("motion",)))
    sample_rate_hz: float | None = field(
        default=None, metadata=rule(float, gt=0, le=1_000, optional=True)
    )
    """Ignored: the sensor is read on its pin's edges (kept so that older configs load)."""


@dataclass(frozen=True, kw_only=True)
class DistanceInput(_Input):
    """An HC-SR04 ultrasonic sensor: a visitor coming within ``threshold_m`` is an interaction."""

    kind: str = field(default="distance", metadata=rule(str, choices=("distance",)))
    echo_pin: int = field(metadata=PIN)
    trigger_pin: int = field(metadata=PIN)
    threshold_m: float = field(default=0.5, metadata=rule(float, gt=0, le=4))
    max_distance_m: float = field(default=2.0, metadata=rule(float, gt=0, le=4))
    queue_len: int = field(default=5, metadata=rule(int, ge=1, le=30))
    """Readings in the median."""

    def pins(self) -> dict[str, int]:
        """Echo and trigger pins."""
        return {"echo_pin": self.echo_pin, "trigger_pin": self.trigger_pin}


@dataclass(frozen=True, kw_only=True)
class LineInput(_SinglePin):
    """A line (or reflective beam) sensor: the chosen edge is an interaction."""

    kind: str = field(default="line", metadata=rule(str, choices=("line",)))
    count_on: str = field(default="no_line", metadata=rule(str, choices=("line", "no_line")))
    sample_rate_hz: float | None = field(
        default=None, metadata=rule(float, gt=0, le=1_000, optional=True)
    )
    """Ignored: the sensor is read on its pin's edges (kept so that older configs load)."""
    queue_len: int | None = field(default=None, metadata=rule(int, ge=1, le=30, optional=True))
    """Ignored, like ``sample_rate_hz``."""

    def counts(self, line: bool) -> bool:
        """Whether the sensor seeing a ``line`` (or not) is in the state it counts."""
        return line if self.count_on == "line" else not line


@dataclass(frozen=True, kw_only=True)
class BeamInput(_SinglePin):
    """An IR break-beam receiver (open collector, pulled up): a break is an interaction."""

    kind: str = field(default="beam", metadata=rule(str, choices=("beam",)))


@dataclass(frozen=True, kw_only=True)
class RotaryInput(_Input):
    """A two-pin incremental rotary encoder: turns, counted per direction."""

    kind: str = field(default="rotary", metadata=rule(str, choices=("rotary",)))
    debounce_s: float | None = field(default=None, metadata=NO_DEBOUNCE)
    press_debounce_s: float | None = field(default=None, metadata=NO_DEBOUNCE)
    release_debounce_s: float | None = field(default=None, metadata=NO_DEBOUNCE)
    a_pin: int = field(metadata=PIN)
    b_pin: int = field(metadata=PIN)
    steps_per_interaction: int = field(default=5, metadata=rule(int, ge=1, le=1_000))

    def pins(self) -> dict[str, int]:
        """The encoder's A and B pins."""
        return {"a_pin": self.a_pin, "b_pin": self.b_pin}

    def count_names(self) -> list[str]:
        """``name_cw`` and ``name_ccw``."""
        return [self.cw_name, self.ccw_name]

    @property
    def cw_name(self) -> str:
        """Count name of clockwise turns."""
        return f"{self.name}_cw"

    @property
    def ccw_name(self) -> str:
        """Count name of counter-clockwise turns."""
        return f"{self.name}_ccw"


InputSpec = ButtonInput | MotionInput | DistanceInput | LineInput | BeamInput | RotaryInput
"""One input of an exhibit; ``kind`` picks the class."""

INPUT_CLASSES: dict[str, type[InputSpec]] = {
    InputKind.BUTTON: ButtonInput,
    InputKind.MOTION: MotionInput,
    InputKind.DISTANCE: DistanceInput,
    InputKind.LINE: LineInput,
    InputKind.BEAM: BeamInput,
    InputKind.ROTARY: RotaryInput,
}


@dataclass(frozen=True, kw_only=True)
class IndicatorSpec(_Checked):
    """The LED that blinks for identify and for errors (PWMLED when ``pwm``)."""

    pin: int = field(metadata=PIN)
    pwm: bool = field(default=False, metadata=rule(bool))
    """Fade with PWM instead of plain on/off."""
    active_high: bool = field(default=True, metadata=rule(bool))


def _table(value: Any, loc: Loc) -> dict[str, Any] | Problem:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return current_values(value)
    if isinstance(value, dict):
        return value
    return Problem(
        loc, "value", "Input should be a valid dictionary or object to extract fields from"
    )


def read_input(value: Any, loc: Loc) -> tuple[InputSpec | None, list[Problem]]:
    """One input from its table (``kind`` picks the class)."""
    raw = _table(value, loc)
    if isinstance(raw, Problem):
        return None, [raw]
    if "kind" not in raw:
        return None, [Problem((*loc, "kind"), "kind_missing", "is required")]
    cls = INPUT_CLASSES.get(raw["kind"]) if isinstance(raw["kind"], str) else None
    if cls is None:
        message = f"unknown input kind {raw['kind']!r}"
        return None, [Problem((*loc, "kind"), "unknown_kind", message)]
    values, problems = read_fields(cls, raw, loc)
    return (None if problems else cls(**values)), problems


def read_inputs(value: Any, loc: Loc) -> tuple[list[InputSpec] | None, list[Problem]]:
    """The list of inputs, each checked (see ``read_input``)."""
    if not isinstance(value, list | tuple):
        return None, [Problem(loc, "value", "Input should be a valid list")]
    specs: list[InputSpec] = []
    problems: list[Problem] = []
    for index, item in enumerate(value):
        spec, found = read_input(item, (*loc, index))
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    return (None if problems else specs), problems


def read_indicator(value: Any, loc: Loc) -> tuple[IndicatorSpec | None, list[Problem]]:
    """The indicator LED from its table, or None."""
    if value is None:
        return None, []
    raw = _table(value, loc)
    if isinstance(raw, Problem):
        return None, [raw]
    values, problems = read_fields(IndicatorSpec, raw, loc)
    return (None if problems else IndicatorSpec(**values)), problems
