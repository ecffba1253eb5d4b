"""An exhibit's inputs and indicator LED as gpiozero devices: the only module importing gpiozero.

``build_inputs()`` creates the gpiozero devices of every ``InputSpec`` on the injected pin
factory and routes their edges to ``device.interactions.InteractionRules`` (the
interaction rules and our debounce live there, testable without pins). ``build_lamp()``
makes the indicator LED (a PWMLED when ``pwm``).

Driving inputs on a ``MockFactory`` (tests, the simulator); callbacks of edge-triggered
devices run synchronously in the caller's thread, sampled sensors count once a sample
has seen the change:

- button (pulled up): ``pin.drive_low()`` presses, ``drive_high()`` releases.
- beam (pulled up): ``drive_low()`` breaks the beam, ``drive_high()`` restores it.
- rotary: ``turn(factory, spec, steps)`` drives the quadrature sequence of A and B.
- motion: ``pulse_motion()``; gpiozero samples the pin ``sample_rate_hz`` times a second.
- line: drive the pin high (no line) or low (line), then wait on the device.
- distance: on a ``MockFactory`` the trigger pin is made a ``MockTriggerPin`` whose echo
  says "nobody" (beyond ``max_distance_m``); ``set_mock_distance()`` moves a visitor.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from gpiozero import (
    LED,
    PWMLED,
    BadPinFactory,
    Button,
    DigitalInputDevice,
    DistanceSensor,
    GPIOZeroError,
    LineSensor,
    MotionSensor,
    PWMSoftwareFallback,
    RotaryEncoder,
)
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from device.clock import Clock, SystemClock
from device.errors import InputError
from device.events import Interaction
from device.interactions import InteractionRules
from device.wiring import (
    BeamInput,
    ButtonInput,
    DistanceInput,
    IndicatorSpec,
    InputSpec,
    LineInput,
    MotionInput,
    RotaryInput,
)

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 2.0
"""How long build_inputs waits for a sampled sensor's first reading."""
SPEED_OF_SOUND = 343.26  # m/s, as gpiozero's DistanceSensor assumes
NOBODY_ECHO_S = 0.02  # an echo of ~3.4 m: beyond any max_distance_m we accept


class InputBank:
    """The gpiozero devices of one exhibit, by input name; ``close()`` releases their pins."""

    def __init__(self, devices: dict[str, Any]) -> None:
        self._devices = devices

    @property
    def names(self) -> list[str]:
        """Input names, in configuration order."""
        return list(self._devices)

    def device(self, name: str) -> Any:
        """The gpiozero device behind input ``name``."""
        return self._devices[name]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._devices.items())

    def close(self) -> None:
        """Detach callbacks and close every device; safe to call twice."""
        devices, self._devices = self._devices, {}
        for name, device in devices.items():
            try:
                device.close()
            except GPIOZeroError as exc:  # closing must release the others regardless
                log.warning("closing input %s failed: %s", name, exc)

    def __enter__(self) -> InputBank:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _settle(sensor: Any, name: str) -> None:
    # A sampled sensor's first reading only sets its initial state and fires nothing, so a
    # change before that reading would be missed: wait for it.
    step = 0.01
    waited = 0.0
    while waited < SETTLE_TIMEOUT_S:
        if sensor.wait_for_inactive(step) or sensor.wait_for_active(0):
            return
        waited += step
    log.warning("sensor %s gave no reading within %.1fs", name, SETTLE_TIMEOUT_S)


def _distance_sensor(spec: DistanceInput, pin_factory: Any) -> Any:
    if isinstance(pin_factory, MockFactory):
        echo = pin_factory.pin(spec.echo_pin)
        pin_factory.pin(
            spec.trigger_pin, pin_class=MockTriggerPin, echo_pin=echo, echo_time=NOBODY_ECHO_S
        )
    with warnings.catch_warnings():
        # gpiozero warns that only pigpio times echoes precisely; a visitor within half a
        # metre is not a precision measurement, and the warning would repeat every start.
        warnings.simplefilter("ignore", PWMSoftwareFallback)
        return DistanceSensor(
            echo=spec.echo_pin,
            trigger=spec.trigger_pin,
            queue_len=spec.queue_len,
            max_distance=spec.max_distance_m,
            threshold_distance=min(spec.threshold_m, spec.max_distance_m),
            pin_factory=pin_factory,
        )


def _create(spec: InputSpec, pin_factory: Any, rules: InteractionRules) -> Any:
    name = spec.name
    activated: Callable[[], None] = lambda: rules.activated(name)  # noqa: E731
    device: Any
    match spec:
        case ButtonInput():
            device = Button(spec.pin, pull_up=True, pin_factory=pin_factory)
            device.when_pressed = activated
            if spec.hold_s is not None:
                device.when_released = lambda: rules.released(name)
        case BeamInput():
            device = DigitalInputDevice(spec.pin, pull_up=True, pin_factory=pin_factory)
            device.when_activated = activated
        case MotionInput():
            device = MotionSensor(
                spec.pin,
                queue_len=1,
                sample_rate=spec.sample_rate_hz,
                threshold=0.5,
                pin_factory=pin_factory,
            )
            _settle(device, name)
            device.when_motion = activated
        case LineInput():
            device = LineSensor(
                spec.pin,
                queue_len=spec.queue_len,
                sample_rate=spec.sample_rate_hz,
                pin_factory=pin_factory,
            )
            _settle(device, name)
            if spec.count_on == "line":
                device.when_line = activated
            else:
                device.when_no_line = activated
        case DistanceInput():
            device = _distance_sensor(spec, pin_factory)
            _settle(device, name)
            device.when_in_range = activated
        case RotaryInput():
            device = RotaryEncoder(spec.a_pin, spec.b_pin, max_steps=0, pin_factory=pin_factory)
            device.when_rotated_clockwise = lambda: rules.stepped(name, clockwise=True)
            device.when_rotated_counter_clockwise = lambda: rules.stepped(name, clockwise=False)
    return device


def build_inputs(
    specs: Iterable[InputSpec],
    *,
    pin_factory: Any,
    on_interaction: Callable[[Interaction], None],
    clock: Clock | None = None,
) -> InputBank:
    """Create the gpiozero devices for ``specs`` and route their interactions to a callback.

    ``pin_factory`` None lets gpiozero choose (``GPIOZERO_PIN_FACTORY``, lgpio on a Pi).
    Raises InputError (with every device already created closed) if a pin cannot be used.
    """
    specs = list(specs)
    rules = InteractionRules(specs, clock=clock or SystemClock(), emit=on_interaction)
    devices: dict[str, Any] = {}
    try:
        for spec in specs:
            try:
                devices[spec.name] = _create(spec, pin_factory, rules)
            except BadPinFactory as exc:
                raise InputError(
                    f"no usable GPIO pin library for input {spec.name!r}: {exc}; on a Pi "
                    "install python3-lgpio, elsewhere set GPIOZERO_PIN_FACTORY=mock"
                ) from exc
            except (GPIOZeroError, ValueError) as exc:
                pins = ", ".join(f"GPIO{pin}" for pin in spec.pins().values())
                raise InputError(
                    f"input {spec.name!r} ({spec.kind}) on {pins}: {exc}; "
                    "check the pin numbers and that no other program holds the pins"
                ) from exc
    except BaseException:
        InputBank(devices).close()
        raise
    return InputBank(devices)


def build_lamp(spec: IndicatorSpec, *, pin_factory: Any) -> Any:
    """The indicator LED (PWMLED if ``spec.pwm``); raises InputError if its pin is unusable."""
    kind = PWMLED if spec.pwm else LED
    try:
        return kind(spec.pin, active_high=spec.active_high, pin_factory=pin_factory)
    except (GPIOZeroError, ValueError) as exc:
        raise InputError(
            f"indicator LED on GPIO{spec.pin}: {exc}; check the pin number (a PWM LED on "
            "mock pins needs MockFactory(pin_class=MockPWMPin))"
        ) from exc


def pulse_motion(bank: InputBank, name: str, pin: Any, *, timeout: float = 2.0) -> bool:
    """Drive a mock motion sensor's pin high until it detects, then low until it clears.

    Returns False if either edge was not seen within ``timeout``. For tests and the
    simulator; ``pin`` is the MockPin (``factory.pin(spec.pin)``).
    """
    sensor = bank.device(name)
    pin.drive_high()
    seen = bool(sensor.wait_for_motion(timeout))
    pin.drive_low()
    cleared = bool(sensor.wait_for_no_motion(timeout))
    return seen and cleared


def set_mock_distance(factory: Any, spec: DistanceInput, metres: float | None) -> None:
    """Put a mock visitor ``metres`` from a distance sensor (None: nobody there)."""
    echo_s = NOBODY_ECHO_S if metres is None else 2 * metres / SPEED_OF_SOUND
    factory.pin(spec.trigger_pin).echo_time = echo_s


def turn(factory: Any, spec: RotaryInput, steps: int) -> None:
    """Turn a mock rotary encoder ``steps`` detents (negative: counter-clockwise)."""
    first, second = (spec.a_pin, spec.b_pin) if steps > 0 else (spec.b_pin, spec.a_pin)
    a, b = factory.pin(first), factory.pin(second)
    for _ in range(abs(steps)):
        # One detent of gpiozero's quadrature sequence (pins pulled up, active low).
        a.drive_low()
        b.drive_low()
        a.drive_high()
        b.drive_high()
