"""What is wired to the Pi: each input with its pins and interaction rule, and the indicator LED.

An input is declared once (TOML ``[[inputs]]`` or ``EXHIBIT_INPUTS`` JSON) and counts
under one or more *count names* (``broker.messages.InputName``):

=========  =====================  ==========================================================
kind       pins (BCM numbers)     what counts as one interaction, and under which name
=========  =====================  ==========================================================
button     ``pin``                ``name``: a press (debounced, 0.05 s by default).
                                  With ``hold_s``: also ``name_hold`` for a press held at
                                  least ``hold_s`` seconds, counted when it is released.
motion     ``pin``                ``name``: a presence start (the PIR output goes high).
distance   ``echo_pin``,          ``name``: a visitor entering the zone closer than
           ``trigger_pin``        ``threshold_m`` (HC-SR04; leaving and coming back counts again).
line       ``pin``                ``name``: a line sensor edge, ``count_on`` ``line`` or
                                  ``no_line`` (a reflective beam break is a line sensor).
beam       ``pin``                ``name``: an IR break-beam receiver pulling the pin low
                                  (beam broken; debounced, 0.1 s by default).
rotary     ``a_pin``, ``b_pin``   ``name_cw`` / ``name_ccw``: every ``steps_per_interaction``
                                  detent steps turned in one direction (default 5); turning
                                  back restarts the partial count of the other direction.
=========  =====================  ==========================================================

Sessions and the self-test speak of inputs by ``name``; counts use the count names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from broker.messages import InputName

Pin = Annotated[int, Field(ge=0, le=27, description="BCM GPIO number on the 40-pin header")]
Seconds = Annotated[float, Field(ge=0, le=10)]


class InputKind(StrEnum):
    """What is wired: decides the gpiozero device and the interaction rule."""

    BUTTON = "button"
    MOTION = "motion"
    DISTANCE = "distance"
    LINE = "line"
    BEAM = "beam"
    ROTARY = "rotary"


DEFAULT_DEBOUNCE_S: dict[InputKind, float] = {InputKind.BUTTON: 0.05, InputKind.BEAM: 0.1}


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    name: InputName
    debounce_s: Seconds | None = Field(
        default=None,
        description="ignore an event this soon after the last accepted one (per-kind default)",
    )

    @property
    def debounce(self) -> float:
        """The effective debounce window in seconds (a per-kind default if unset)."""
        if self.debounce_s is not None:
            return self.debounce_s
        return DEFAULT_DEBOUNCE_S.get(InputKind(self.kind), 0.0)

    def pins(self) -> dict[str, int]:
        """Every GPIO this input uses, by setting name."""
        raise NotImplementedError

    def count_names(self) -> list[str]:
        """The names this input's interactions are counted under."""
        return [self.name]


class _SinglePin(_Input):
    pin: Pin

    def pins(self) -> dict[str, int]:
        """The one pin of this input."""
        return {"pin": self.pin}


class ButtonInput(_SinglePin):
    """A push button to ground (internal pull-up): presses, and optionally long holds."""

    kind: Literal["button"] = "button"
    hold_s: float | None = Field(
        default=None, gt=0, le=60, description="a press held this long also counts as name_hold"
    )

    def count_names(self) -> list[str]:
        """``name``, plus ``name_hold`` when holds are counted."""
        return [self.name, self.hold_name] if self.hold_s is not None else [self.name]

    @property
    def hold_name(self) -> str:
        """The count name of long holds."""
        return f"{self.name}_hold"


class MotionInput(_SinglePin):
    """A PIR motion sensor: a presence start is an interaction."""

    kind: Literal["motion"] = "motion"
    sample_rate_hz: float = Field(default=10.0, gt=0, le=1_000, description="readings per second")


class DistanceInput(_Input):
    """An HC-SR04 ultrasonic sensor: a visitor coming within ``threshold_m`` is an interaction."""

    kind: Literal["distance"] = "distance"
    echo_pin: Pin
    trigger_pin: Pin
    threshold_m: float = Field(default=0.5, gt=0, le=4)
    max_distance_m: float = Field(default=2.0, gt=0, le=4)
    queue_len: int = Field(default=5, ge=1, le=30, description="readings in the median")

    def pins(self) -> dict[str, int]:
        """Echo and trigger pins."""
        return {"echo_pin": self.echo_pin, "trigger_pin": self.trigger_pin}


class LineInput(_SinglePin):
    """A line (or reflective beam) sensor: the chosen edge is an interaction."""

    kind: Literal["line"] = "line"
    count_on: Literal["line", "no_line"] = "no_line"
    sample_rate_hz: float = Field(default=100.0, gt=0, le=1_000)
    queue_len: int = Field(default=5, ge=1, le=30)


class BeamInput(_SinglePin):
    """An IR break-beam receiver (open collector, pulled up): a break is an interaction."""

    kind: Literal["beam"] = "beam"


class RotaryInput(_Input):
    """A two-pin incremental rotary encoder: turns, counted per direction."""

    kind: Literal["rotary"] = "rotary"
    a_pin: Pin
    b_pin: Pin
    steps_per_interaction: int = Field(default=5, ge=1, le=1_000)

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


InputSpec = Annotated[
    ButtonInput | MotionInput | DistanceInput | LineInput | BeamInput | RotaryInput,
    Field(discriminator="kind"),
]
"""One input of an exhibit; ``kind`` picks the model."""


class IndicatorSpec(BaseModel):
    """The LED that blinks for identify and for errors (PWMLED when ``pwm``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pin: Pin
    pwm: bool = Field(default=False, description="fade with PWM instead of plain on/off")
    active_high: bool = True
