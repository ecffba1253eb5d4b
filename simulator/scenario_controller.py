"""What a simulated exhibit drives, in a scenario file: outputs, behaviours, pushes, checks.

An exhibit's ``controller:`` is what its agent's settings would hold (docs/controller.md:
``outputs``, ``behaviours``, ``attract``, ``quiet_hours``), except that pins may be left
out: the simulator hands inputs the pins of ``PIN_POOL`` and outputs those of
``OUTPUT_PIN_POOL``, in order. ``configs:`` are pushes from the fleet
(``PUT /exhibits/{id}/config``) at a moment; ``output_checks:`` say what outputs must be
doing at a moment. The document an agent gets is checked by the agent's own checker
(``broker.exhibit_config``), so a scenario cannot ask for what an exhibit would refuse.

An expected output state (``judge``):

=================================  ===================================================
``on`` / ``off``                   steady (not blinking or pulsing) and active / not
``safe``                           resting in its safe state (never driven, or put back)
``blink`` / ``pulse`` / ``tone``   doing that now
``{angle: 45}``                    a servo at that angle (within 0.5 degrees)
``{speed: 0.5}``, ``{value: 0.3}`` a motor's speed, a PWM LED's brightness (within 0.01)
``{color: [1, 0, 0]}``             an RGB LED's colour (each within 0.01)
``{frequency_hz: 440}``            a tonal buzzer's tone (within 1%)
=================================  ===================================================
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from broker.config_fields import OUTPUTS
from simulator.scenario_types import ExhibitList, UtcTime

PIN_POOL = (17, 27, 22, 23, 24, 25, 5, 6, 12, 13, 16, 26)
"""BCM pins handed to a simulated exhibit's inputs, in order."""
OUTPUT_PIN_POOL = (4, 18, 19, 20, 21, 7, 8, 9, 10, 11, 14, 15, 2, 3)
"""BCM pins handed to its outputs (those without pins given), in order."""
STEADY = ("on", "off", "safe", "blink", "pulse", "tone")
MEASURED = {"angle": 0.5, "speed": 0.01, "value": 0.01, "color": 0.01, "frequency_hz": 0.01}
"""What a mapping may expect, with its tolerance (the frequency's is relative)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ControllerDef(_Model):
    """Outputs, behaviour rules, attract mode and quiet hours, as in the agent's settings."""

    outputs: list[dict[str, Any]] = Field(default_factory=list)
    behaviours: list[dict[str, Any]] = Field(default_factory=list)
    attract: dict[str, Any] | None = None
    quiet_hours: dict[str, Any] | None = None

    def output_names(self) -> list[str]:
        """Names of its outputs, in order."""
        return [str(part.get("name")) for part in self.outputs]


class ConfigPush(_Model):
    """The fleet sends a new configuration to exhibits (``PUT /exhibits/{id}/config``).

    Each exhibit's document is its inputs (as wired) and this controller. In a visit it
    waits until the visit's check-in, unless ``force``.
    """

    at: UtcTime
    exhibits: ExhibitList = Field(min_length=1)
    force: bool = False
    controller: ControllerDef


Expected = str | dict[str, float | list[float]]


class OutputCheck(_Model):
    """What the outputs of exhibits must be doing at ``at`` (see the module docstring)."""

    at: UtcTime
    exhibits: ExhibitList = Field(min_length=1)
    outputs: dict[str, Expected] = Field(min_length=1)
    config_version: int | None = Field(
        default=None, ge=1, description="the pushed configuration version it must run then"
    )
    why: str = Field(default="", description="what the check shows, for the faults log")

    @field_validator("outputs")
    @classmethod
    def _states(cls, outputs: dict[str, Expected]) -> dict[str, Expected]:
        for name, expected in outputs.items():
            if isinstance(expected, str):
                if expected not in STEADY:
                    choices = ", ".join(STEADY)
                    raise ValueError(f"{name}: expect one of {choices} (got {expected!r})")
                continue
            if len(expected) != 1 or next(iter(expected)) not in MEASURED:
                raise ValueError(
                    f"{name}: expect one measure of {', '.join(MEASURED)}, e.g. {{angle: 45}}"
                )
        return outputs


def wiring(inputs: list[Any]) -> list[dict[str, Any]]:
    """Agent input specs for a simulated exhibit's ``inputs``, on pins of PIN_POOL in order."""
    pins = iter(PIN_POOL)
    specs: list[dict[str, Any]] = []
    for spec in inputs:
        if spec.kind == "rotary":
            specs.append(
                {"name": spec.name, "kind": "rotary", "a_pin": next(pins), "b_pin": next(pins)}
            )
        else:
            specs.append({"name": spec.name, "kind": spec.kind, "pin": next(pins)})
    return specs


def with_pins(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``outputs`` with every pin they leave out taken from OUTPUT_PIN_POOL, in order."""
    given = {value for part in outputs for key, value in part.items() if key.endswith("pin")}
    free = iter(pin for pin in OUTPUT_PIN_POOL if pin not in given)
    placed: list[dict[str, Any]] = []
    for part in outputs:
        roles = [key for key in OUTPUTS.get(str(part.get("kind")), {}) if key.endswith("pin")]
        filled = dict(part)
        for role in roles:
            if role not in filled:
                filled[role] = next(free, None)  # None: more outputs than pins; the check says
        placed.append(filled)
    return placed


def document(inputs: list[Any], controller: ControllerDef | None) -> dict[str, Any]:
    """The configuration an exhibit with ``inputs`` runs for ``controller`` (agent format)."""
    found: dict[str, Any] = {"inputs": wiring(inputs)}
    if controller is None:
        return found
    found["outputs"] = with_pins(controller.outputs)
    found["behaviours"] = list(controller.behaviours)
    if controller.attract is not None:
        found["attract"] = controller.attract
    if controller.quiet_hours is not None:
        found["quiet_hours"] = controller.quiet_hours
    return found


def agent_controller(inputs: list[Any], controller: ControllerDef | None) -> dict[str, Any] | None:
    """The agent settings ``controller`` stands for (pins placed); None: it drives nothing."""
    if controller is None:
        return None
    return {key: value for key, value in document(inputs, controller).items() if key != "inputs"}


def judge(name: str, expected: Expected, state: dict[str, Any] | None) -> str | None:
    """None if output ``name`` in ``state`` (``OutputBank.state``) is as ``expected``;
    otherwise what differs, in one line."""
    if state is None:
        return f"{name}: no such output on the exhibit now"
    doing = state["doing"]
    seen = f"{name}: expected {expected}, found {doing}"
    if isinstance(expected, str):
        steady = doing not in ("blink", "pulse")
        ok = {
            "on": steady and state["active"],
            "off": steady and not state["active"],
            "safe": doing == "safe",
        }.get(expected, doing == expected)
        return None if ok else f"{seen} (active {state['active']}, value {state['value']})"
    ((measure, want),) = expected.items()
    seen = f"{name}: expected {measure} {want}, found {doing}"
    have = state.get(measure) if measure in ("angle", "frequency_hz") else state["value"]
    if have is None:
        return f"{seen} ({measure} none)"
    tolerance = MEASURED[measure]
    wanted = want if isinstance(want, list) else [want]
    found = have if isinstance(have, list) else [have]
    if measure == "frequency_hz":
        tolerance *= float(wanted[0])
    close = len(wanted) == len(found) and all(
        math.isclose(float(w), float(h), abs_tol=tolerance)
        for w, h in zip(wanted, found, strict=True)
    )
    return None if close else f"{seen} ({measure} {have})"
