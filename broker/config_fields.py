"""The fields of an exhibit configuration's parts, as tables the checker reads.

Standard library only: the agent reads these without pydantic (``device/wire/codec.py``'s
reason), the fleet's pages and API with it. ``broker.exhibit_config`` walks a pushed
document against them; each table is ``kind -> field -> Spec``.

Input kinds and their bounds are the agent's (``device`` wiring, held equal by
``tests/broker/test_exhibit_config.py``); outputs are gpiozero's output devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.limits import INPUT_NAME_PATTERN

BCM_PINS = (0, 27)
"""BCM GPIO numbers on the 40-pin header."""


@dataclass(frozen=True, slots=True)
class Spec:
    """One field: its type, whether it is required, and its bounds or choices."""

    type: type
    required: bool = False
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    fix: str = ""
    """How to fix a bad value, said after the problem (one line)."""


def pin(what: str, example: int) -> Spec:
    """A required BCM pin."""
    return Spec(
        int,
        required=True,
        ge=BCM_PINS[0],
        le=BCM_PINS[1],
        fix=f"use the BCM GPIO number 0-27 {what} is wired to, e.g. {example}",
    )


NAME = Spec(
    str,
    required=True,
    pattern=INPUT_NAME_PATTERN,
    fix="use lowercase letters, digits and _, starting with a letter, at most 32",
)
DEBOUNCE = Spec(float, ge=0, le=60, fix="use seconds between 0 and 60, e.g. 0.03")
SECONDS = Spec(float, gt=0, le=86_400, fix="use seconds above 0, at most 86400, e.g. 5")
ACTIVE_HIGH = Spec(bool, fix="use true (on = pin high) or false (on = pin low)")
SAFE = Spec(str, choices=("off", "on"), fix="use off or on: the state at start and stop")
UNIT = Spec(float, ge=0, le=1, fix="use a value from 0 to 1, e.g. 0.5")

_DEBOUNCED: dict[str, Spec] = {
    "debounce_s": DEBOUNCE,
    "press_debounce_s": DEBOUNCE,
    "release_debounce_s": DEBOUNCE,
}

INPUTS: dict[str, dict[str, Spec]] = {
    "button": {
        "pin": pin("the button", 17),
        **_DEBOUNCED,
        "hold_s": Spec(float, gt=0, le=60, fix="use seconds above 0, at most 60, e.g. 2"),
    },
    "motion": {
        "pin": pin("the PIR's output", 4),
        **_DEBOUNCED,
        "sample_rate_hz": Spec(float, gt=0, le=1_000),
    },
    "distance": {
        "echo_pin": pin("the sensor's ECHO", 24),
        "trigger_pin": pin("the sensor's TRIG", 23),
        **_DEBOUNCED,
        "threshold_m": Spec(float, gt=0, le=4, fix="use metres above 0, at most 4, e.g. 0.5"),
        "max_distance_m": Spec(float, gt=0, le=4, fix="use metres above 0, at most 4, e.g. 2"),
        "queue_len": Spec(int, ge=1, le=30, fix="use 1-30 readings, e.g. 5"),
    },
    "line": {
        "pin": pin("the line sensor", 18),
        **_DEBOUNCED,
        "count_on": Spec(str, choices=("line", "no_line")),
        "sample_rate_hz": Spec(float, gt=0, le=1_000),
        "queue_len": Spec(int, ge=1, le=30),
    },
    "beam": {"pin": pin("the beam receiver", 22), **_DEBOUNCED},
    "rotary": {
        "a_pin": pin("the encoder's A", 20),
        "b_pin": pin("the encoder's B", 21),
        "steps_per_interaction": Spec(int, ge=1, le=1_000, fix="use 1-1000 steps, e.g. 5"),
    },
}
"""Input kinds (the agent's), each with its fields besides ``name`` and ``kind``."""

OUTPUTS: dict[str, dict[str, Spec]] = {
    "led": {"pin": pin("the LED", 5), "active_high": ACTIVE_HIGH, "safe": SAFE},
    "pwmled": {"pin": pin("the LED", 12), "active_high": ACTIVE_HIGH, "safe": SAFE},
    "rgbled": {
        "red_pin": pin("the red LED", 9),
        "green_pin": pin("the green LED", 10),
        "blue_pin": pin("the blue LED", 11),
        "active_high": ACTIVE_HIGH,
        "safe": SAFE,
    },
    "buzzer": {"pin": pin("the buzzer", 6), "active_high": ACTIVE_HIGH, "safe": SAFE},
    "tonal_buzzer": {
        "pin": pin("the buzzer", 13),
        "octaves": Spec(int, ge=1, le=3, fix="use 1-3 octaves around A4 (440 Hz), e.g. 1"),
    },
    "servo": {
        "pin": pin("the servo's signal", 18),
        "min_angle": Spec(float, ge=-360, le=360, fix="use degrees, e.g. -90"),
        "max_angle": Spec(float, ge=-360, le=360, fix="use degrees, e.g. 90"),
        "safe_angle": Spec(float, ge=-360, le=360, fix="use degrees, e.g. 0"),
    },
    "motor": {
        "forward_pin": pin("the driver's forward input", 7),
        "backward_pin": pin("the driver's backward input", 8),
    },
    "relay": {"pin": pin("the relay's input", 26), "active_high": ACTIVE_HIGH, "safe": SAFE},
}
"""Output kinds (gpiozero: LED, PWMLED, RGBLED, Buzzer, TonalBuzzer, Servo, Motor,
OutputDevice for a relay), each with its fields besides ``name`` and ``kind``. ``safe``:
the state at start and at stop (default ``off``); a servo goes to ``safe_angle`` (default:
the middle of its range), a motor always stops."""

EVENTS: dict[str, tuple[str, ...]] = {
    "press": ("button",),
    "release": ("button",),
    "hold": ("button",),
    "beam_broken": ("beam",),
    "beam_restored": ("beam",),
    "motion": ("motion",),
    "distance_under": ("distance",),
    "rotation": ("rotary",),
}
"""Behaviour events, each with the input kinds that have it. ``hold``: a button held its
``hold_s``; ``distance_under``: a visitor comes within the sensor's ``threshold_m``;
``rotation``: a step of the encoder (``direction`` ``cw``/``ccw`` narrows it)."""

ACTIONS: dict[str, tuple[str, ...]] = {
    "on": ("led", "pwmled", "rgbled", "buzzer", "relay", "motor"),
    "off": ("led", "pwmled", "rgbled", "buzzer", "relay", "tonal_buzzer", "motor", "servo"),
    "blink": ("led", "pwmled", "rgbled", "buzzer", "relay"),
    "pulse": ("pwmled", "rgbled"),
    "tone": ("tonal_buzzer",),
    "angle": ("servo",),
    "speed": ("motor",),
}
"""Behaviour actions, each with the output kinds that can do it. ``off`` puts an output
in its off state (a servo: detached, a motor: stopped)."""

RULE_FIELDS: dict[str, Spec] = {
    "input": Spec(str, required=True, pattern=INPUT_NAME_PATTERN, fix="name one of the inputs"),
    "event": Spec(str, required=True, choices=tuple(EVENTS)),
    "output": Spec(str, required=True, pattern=INPUT_NAME_PATTERN, fix="name one of the outputs"),
    "action": Spec(str, required=True, choices=tuple(ACTIONS)),
    "seconds": Spec(
        float, gt=0, le=3_600, fix="use seconds above 0, at most 3600: how long it lasts"
    ),
    "on_s": Spec(float, gt=0, le=60, fix="use seconds above 0, at most 60, e.g. 0.5"),
    "off_s": Spec(float, gt=0, le=60, fix="use seconds above 0, at most 60, e.g. 0.5"),
    "fade_s": Spec(float, gt=0, le=60, fix="use seconds above 0, at most 60, e.g. 1"),
    "value": UNIT,
    "color": Spec(list, fix="use [red, green, blue], each from 0 to 1, e.g. [1, 0.5, 0]"),
    "frequency_hz": Spec(float, gt=0, le=20_000, fix="use a frequency in Hz, e.g. 440"),
    "angle": Spec(float, ge=-360, le=360, fix="use degrees within the servo's range, e.g. 45"),
    "speed": Spec(float, ge=-1, le=1, fix="use -1 (full backward) to 1 (full forward)"),
    "direction": Spec(str, choices=("cw", "ccw")),
}
"""A behaviour rule: on ``event`` of ``input``, do ``action`` on ``output``."""

ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "on": ("seconds", "value", "color"),
    "off": (),
    "blink": ("seconds", "on_s", "off_s"),
    "pulse": ("seconds", "fade_s"),
    "tone": ("seconds", "frequency_hz"),
    "angle": ("seconds", "angle"),
    "speed": ("seconds", "speed"),
}
"""The optional fields each action reads (``tone`` needs ``frequency_hz``, ``angle``
``angle``, ``speed`` ``speed``); any other is a mistake worth a line."""

REQUIRED_BY_ACTION: dict[str, str] = {"tone": "frequency_hz", "angle": "angle", "speed": "speed"}

ATTRACT_FIELDS: dict[str, Spec] = {
    "idle_s": Spec(
        float, required=True, gt=0, le=86_400, fix="use seconds without a visitor, e.g. 120"
    ),
    "actions": Spec(list, required=True, fix="give a list of {output, action, ...}"),
}
"""Attract mode: after ``idle_s`` with no interaction its actions run until the next one."""

QUIET_FIELDS: dict[str, Spec] = {
    "start": Spec(str, required=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", fix="use HH:MM"),
    "end": Spec(str, required=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", fix="use HH:MM"),
}
"""Quiet hours (the Pi's local time, start included, end not; across midnight when start
is later than end): behaviours and attract mode drive nothing; counting goes on."""

TOP_FIELDS: dict[str, Spec] = {
    "inputs": Spec(
        list,
        required=True,
        fix='give a list of inputs, e.g. [{"name": "button", "kind": "button", "pin": 17}]',
    ),
    "outputs": Spec(list, fix="give a list of outputs"),
    "behaviours": Spec(list, fix="give a list of rules"),
    "attract": Spec(dict, fix='give a table, e.g. {"idle_s": 120, "actions": [...]}'),
    "quiet_hours": Spec(dict, fix='give a table, e.g. {"start": "18:00", "end": "08:00"}'),
    "bucket_seconds": Spec(float, gt=0, le=86_400, fix="use seconds between 0 and 86400, e.g. 60"),
    "session_idle_s": Spec(float, gt=0, le=3_600, fix="use seconds between 0 and 3600, e.g. 30"),
}
"""The document's top level."""


def kind_of(value: Any, table: dict[str, dict[str, Spec]]) -> str | None:
    """The ``kind`` of a part if it is one of ``table``'s."""
    kind = value.get("kind") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) and kind in table else None
