"""An exhibit's inputs and indicator LED as gpiozero devices: the only module importing gpiozero.

``build_inputs()`` creates the gpiozero devices of every ``InputSpec`` on the injected pin
factory and routes their edges to ``device.gpio.interactions.InteractionRules`` (the
interaction rules and our debounce live there, testable without pins). ``build_lamp()``
makes the indicator LED (a PWMLED when ``pwm``).

Buttons, beams, motion and line sensors are read as raw pin edges: a plain
``InputDevice`` whose pin calls us on both edges with its level, and no edge logic of
gpiozero's own on the way (``Button`` would start a hold thread per button and
``MotionSensor``/``LineSensor`` poll the pin from a thread in real time, which neither
the simulator's clock nor our stable-level debounce can use). ``bounce_time`` stays unset:
MockPin ignores it, so on a Pi too the debounce is ours, exactly as tested. The distance
sensor stays gpiozero's (it times echoes; its in-range events pass through the same
rules), and so does the rotary encoder (its state machine ignores contact bounce).

Driving inputs on a ``MockFactory`` (tests, the simulator; ``simulator.signals`` makes
the edges real hardware makes); callbacks run synchronously in the caller's thread:

- button, beam (pulled up): ``pin.drive_low()`` presses / breaks, ``drive_high()`` releases.
- motion (pulled down): ``drive_high()`` while the PIR sees someone, ``drive_low()`` after.
- line (pulled down): ``drive_low()`` over a line, ``drive_high()`` off it.
- rotary: ``device.gpio.mock.turn(factory, spec, steps)`` drives the quadrature sequence of A and B.
- distance: on a ``MockFactory`` the trigger pin is made a ``MockTriggerPin`` whose echo
  says "nobody" (beyond ``max_distance_m``); ``device.gpio.mock.set_mock_distance()`` moves a
  visitor.

A level change counts only after it held for the input's debounce time on the agent's
clock: drive it, let the clock pass, then the next edge or the worker confirms it.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from gpiozero import (
    LED,
    PWMLED,
    BadPinFactory,
    DistanceSensor,
    GPIOZeroError,
    InputDevice,
    PWMSoftwareFallback,
    RotaryEncoder,
)

from device.core.clock import Clock, SystemClock
from device.core.errors import InputError
from device.core.events import Interaction
from device.gpio.interactions import InteractionRules, Watcher
from device.settings.wiring import (
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

    def __init__(
        self,
        devices: dict[str, Any],
        rules: InteractionRules | None = None,
        handlers: list[Callable[..., None]] | None = None,
    ) -> None:
        self._devices = devices
        self._rules = rules
        # gpiozero holds pin callbacks by weak reference only: these keep them alive.
        self._handlers = handlers or []

    @property
    def rules(self) -> InteractionRules:
        """The interaction rules these devices feed (the worker settles their levels)."""
        assert self._rules is not None
        return self._rules

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
        self._handlers = []
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


class _DistanceSensor(DistanceSensor):  # type: ignore[misc]  # gpiozero ships no types
    """gpiozero's DistanceSensor, closed in an order its sampling thread survives."""

    def close(self) -> None:
        """Stop the sampling thread, then release the pins as gpiozero does."""
        # gpiozero 2.0.1's close() releases the trigger (``_trigger = None``) before it
        # stops the thread whose reading fires that trigger: a reading under way then dies
        # with AttributeError in the thread. Stopped first, the thread has finished its read.
        queue = getattr(self, "_queue", None)
        if queue is not None:
            with contextlib.suppress(RuntimeError):  # never started: __init__ failed first
                queue.stop()
        super().close()


def _distance_sensor(spec: DistanceInput, pin_factory: Any) -> Any:
    if type(pin_factory).__module__ == "gpiozero.pins.mock":
        # Mock pins only (tests, the simulator): loaded here so a Pi never imports them.
        from device.gpio.mock import prepare_distance

        prepare_distance(pin_factory, spec)
    with warnings.catch_warnings():
        # gpiozero warns that only pigpio times echoes precisely; a visitor within half a
        # metre is not a precision measurement, and the warning would repeat every start.
        warnings.simplefilter("ignore", PWMSoftwareFallback)
        return _DistanceSensor(
            echo=spec.echo_pin,
            trigger=spec.trigger_pin,
            queue_len=spec.queue_len,
            max_distance=spec.max_distance_m,
            threshold_distance=min(spec.threshold_m, spec.max_distance_m),
            pin_factory=pin_factory,
        )


class _Edges:
    """A pin's edges, as the input's level (active or not), handed to the rules."""

    def __init__(self, rules: InteractionRules, name: str, *, active_high: bool) -> None:
        self._level = rules.level
        self._name = name
        self._active_high = active_high

    def __call__(self, ticks: float, state: int) -> None:
        self._level(self._name, bool(state) == self._active_high)


def _edge_input(
    spec: ButtonInput | BeamInput | MotionInput | LineInput,
    pin_factory: Any,
    rules: InteractionRules,
    handlers: list[Callable[..., None]],
    *,
    pull_up: bool,
    active_high: bool,
) -> Any:
    device = InputDevice(spec.pin, pull_up=pull_up, pin_factory=pin_factory)
    handler = _Edges(rules, spec.name, active_high=active_high)
    handlers.append(handler)
    pin = device.pin
    pin.bounce = None  # our debounce, on the agent's clock (device.gpio.interactions)
    pin.edges = "both"
    pin.when_changed = handler
    # After the callback is set: an edge in between is then either seen or read here.
    rules.start(spec.name, bool(pin.state) == active_high)
    return device


def _warn_ignored(spec: InputSpec) -> None:
    for setting in ("sample_rate_hz", "queue_len"):
        if isinstance(spec, MotionInput | LineInput) and getattr(spec, setting, None) is not None:
            log.warning(
                "input %s: %s is ignored (the sensor is read on its pin's edges, debounced by "
                "press_debounce_s / release_debounce_s); remove it from the configuration",
                spec.name,
                setting,
            )


def _create(
    spec: InputSpec,
    pin_factory: Any,
    rules: InteractionRules,
    handlers: list[Callable[..., None]],
) -> Any:
    name = spec.name
    _warn_ignored(spec)
    device: Any
    match spec:
        case ButtonInput() | BeamInput():  # to ground, pulled up: active low
            device = _edge_input(
                spec, pin_factory, rules, handlers, pull_up=True, active_high=False
            )
        case MotionInput():  # a PIR drives its output high while it sees someone
            device = _edge_input(
                spec, pin_factory, rules, handlers, pull_up=False, active_high=True
            )
        case LineInput():  # low over a line; counted: the state of count_on
            device = _edge_input(
                spec, pin_factory, rules, handlers, pull_up=False, active_high=spec.counts(False)
            )
        case DistanceInput():
            device = _distance_sensor(spec, pin_factory)
            _settle(device, name)
            device.when_in_range = lambda: rules.level(name, True)
            device.when_out_of_range = lambda: rules.level(name, False)
            rules.start(name, bool(device.in_range))
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
    watch: Watcher | None = None,
) -> InputBank:
    """Create the gpiozero devices for ``specs`` and route their interactions to a callback.

    ``pin_factory`` None lets gpiozero choose (``GPIOZERO_PIN_FACTORY``, lgpio on a Pi).
    Raises InputError (with every device already created closed) if a pin cannot be used.
    ``watch`` (the behaviour engine) hears every confirmed level change and turn.
    """
    specs = list(specs)
    rules = InteractionRules(specs, clock=clock or SystemClock(), emit=on_interaction, watch=watch)
    devices: dict[str, Any] = {}
    handlers: list[Callable[..., None]] = []
    try:
        for spec in specs:
            try:
                devices[spec.name] = _create(spec, pin_factory, rules, handlers)
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
    return InputBank(devices, rules, handlers)


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
