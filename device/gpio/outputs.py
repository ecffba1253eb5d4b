"""An exhibit's outputs as gpiozero devices: lamps, buzzers, servos, motors and relays.

``build_outputs()`` makes one gpiozero device per output of the settings on the injected
pin factory, each in its *safe state* (``safe``: off unless ``on``; a servo at
``safe_angle``, by default the middle of its range; a motor stopped; a tonal buzzer
silent); ``OutputBank.close()`` puts each back in it before releasing the pins, so an
agent that stops leaves no motor running. ``act()`` carries out one action; the
behaviour engine (``device.gpio.behaviours``) is the only caller, from its own thread.

=============  ==============================  =====================================
kind           gpiozero                        pins
=============  ==============================  =====================================
led            ``LED``                         ``pin``
pwmled         ``PWMLED``                      ``pin``
rgbled         ``RGBLED``                      ``red_pin``, ``green_pin``, ``blue_pin``
buzzer         ``Buzzer``                      ``pin``
tonal_buzzer   ``TonalBuzzer``                 ``pin`` (``octaves`` around A4)
servo          ``AngularServo``                ``pin`` (``min_angle``..``max_angle``)
motor          ``Motor`` (PWM)                 ``forward_pin``, ``backward_pin``
relay          ``OutputDevice``                ``pin``
=============  ==============================  =====================================

PWM kinds need a PWM-capable pin factory (on a ``MockFactory``: ``pin_class=MockPWMPin``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from gpiozero import (
    LED,
    PWMLED,
    RGBLED,
    AngularServo,
    Buzzer,
    GPIOZeroError,
    Motor,
    OutputDevice,
    PWMSoftwareFallback,
    TonalBuzzer,
)
from gpiozero.tones import Tone

from device.core.errors import InputError

log = logging.getLogger(__name__)


def _safe_on(part: Mapping[str, Any]) -> bool:
    return bool(part.get("safe", "off") == "on")


def _middle(part: Mapping[str, Any]) -> float:
    low, high = float(part.get("min_angle", -90.0)), float(part.get("max_angle", 90.0))
    return float(part.get("safe_angle", (low + high) / 2))


def _device(part: Mapping[str, Any], factory: Any) -> Any:
    kind = part["kind"]
    high = bool(part.get("active_high", True))
    on = _safe_on(part)
    if kind == "led":
        return LED(part["pin"], active_high=high, initial_value=on, pin_factory=factory)
    if kind == "pwmled":
        return PWMLED(part["pin"], active_high=high, initial_value=float(on), pin_factory=factory)
    if kind == "rgbled":
        pins = (part["red_pin"], part["green_pin"], part["blue_pin"])
        colour = (1.0, 1.0, 1.0) if on else (0.0, 0.0, 0.0)
        return RGBLED(*pins, active_high=high, initial_value=colour, pin_factory=factory)
    if kind == "buzzer":
        return Buzzer(part["pin"], active_high=high, initial_value=on, pin_factory=factory)
    if kind == "tonal_buzzer":
        return TonalBuzzer(part["pin"], octaves=int(part.get("octaves", 1)), pin_factory=factory)
    if kind == "servo":
        return AngularServo(
            part["pin"],
            initial_angle=_middle(part),
            min_angle=float(part.get("min_angle", -90.0)),
            max_angle=float(part.get("max_angle", 90.0)),
            pin_factory=factory,
        )
    if kind == "motor":
        return Motor(part["forward_pin"], part["backward_pin"], pwm=True, pin_factory=factory)
    if kind == "relay":
        return OutputDevice(part["pin"], active_high=high, initial_value=on, pin_factory=factory)
    raise InputError(f"output {part.get('name')!r}: unknown kind {kind!r}")


class OutputBank:
    """The gpiozero devices of one exhibit's outputs, by name."""

    def __init__(self, parts: Iterable[Mapping[str, Any]], devices: dict[str, Any]) -> None:
        self._parts = {str(part["name"]): dict(part) for part in parts}
        self._devices = devices
        self._doing = dict.fromkeys(devices, "safe")

    @property
    def names(self) -> list[str]:
        """Output names, in configuration order."""
        return list(self._devices)

    def device(self, name: str) -> Any:
        """The gpiozero device behind output ``name`` (tests read its state)."""
        return self._devices[name]

    def act(self, name: str, action: str, settings: Mapping[str, Any]) -> None:
        """Carry out ``action`` on output ``name`` now (``seconds`` is the engine's business)."""
        device = self._devices[name]
        kind = self._parts[name]["kind"]
        self._doing[name] = action
        if action == "off":
            self._off(name)
        elif action == "on":
            if kind == "motor":
                device.forward(1.0)
            elif kind == "rgbled":
                device.color = tuple(settings.get("color", (1.0, 1.0, 1.0)))
            elif kind == "pwmled":
                device.value = float(settings.get("value", 1.0))
            else:
                device.on()
        elif action == "blink":
            device.blink(
                on_time=float(settings.get("on_s", 0.5)), off_time=float(settings.get("off_s", 0.5))
            )
        elif action == "pulse":
            fade = float(settings.get("fade_s", 1.0))
            device.pulse(fade_in_time=fade, fade_out_time=fade)
        elif action == "tone":
            device.play(Tone(frequency=float(settings["frequency_hz"])))
        elif action == "angle":
            device.angle = float(settings["angle"])
        elif action == "speed":
            speed = float(settings["speed"])
            if speed >= 0:
                device.forward(speed)
            else:
                device.backward(-speed)

    def _off(self, name: str) -> None:
        device = self._devices[name]
        kind = self._parts[name]["kind"]
        if kind == "tonal_buzzer" or kind == "motor":
            device.stop()
        elif kind == "servo":
            device.detach()
        else:
            device.off()

    def safe(self, name: str) -> None:
        """Put output ``name`` in its safe state (what it starts and stops in)."""
        device = self._devices[name]
        part = self._parts[name]
        if part["kind"] == "servo":
            device.angle = _middle(part)
        elif _safe_on(part) and part["kind"] not in ("motor", "tonal_buzzer"):
            self.act(name, "on", {})
        else:
            self._off(name)
        self._doing[name] = "safe"

    def state(self, name: str) -> dict[str, Any]:
        """What output ``name`` does now: ``doing`` (its last action, or ``safe``), whether
        it is ``active`` and its gpiozero ``value`` (a colour as a list; None when off); a
        servo's ``angle`` and a tonal buzzer's ``frequency_hz`` too.

        A blink or a pulse runs on gpiozero's own thread in real time, so ``active`` and
        ``value`` flicker with it; ``doing`` says what it is (the simulator's checks read it).
        """
        device = self._devices[name]
        value = device.value
        if isinstance(value, tuple):
            value = [float(part) for part in value]
        elif value is not None:
            value = float(value)
        found = {"doing": self._doing[name], "active": bool(device.is_active), "value": value}
        kind = self._parts[name]["kind"]
        if kind == "servo":
            found["angle"] = device.angle  # None once detached (off)
        elif kind == "tonal_buzzer":
            found["frequency_hz"] = None if device.tone is None else float(device.tone.frequency)
        return found

    def close(self) -> None:
        """Every output to its safe state, then release the pins; safe to call twice."""
        for name in list(self._devices):
            try:
                self.safe(name)
                self._devices[name].close()
            except GPIOZeroError as exc:  # closing must release the others regardless
                log.warning("closing output %s failed: %s", name, exc)
        self._devices = {}


def build_outputs(parts: Iterable[Mapping[str, Any]], *, pin_factory: Any = None) -> OutputBank:
    """The outputs of the settings, each in its safe state; InputError (naming the output)
    if a pin cannot be had, every device made so far closed again."""
    parts = list(parts)
    devices: dict[str, Any] = {}
    try:
        for part in parts:
            with warnings.catch_warnings():
                # Software PWM is what a Pi without hardware PWM on that pin does: fine.
                warnings.simplefilter("ignore", PWMSoftwareFallback)
                devices[str(part["name"])] = _device(part, pin_factory)
    except (GPIOZeroError, ValueError) as exc:
        for device in devices.values():
            device.close()
        name = part.get("name")
        raise InputError(f"setting outputs ({name!r}): cannot set up its pins: {exc}") from exc
    return OutputBank(parts, devices)
