"""An exhibit's inputs as gpiozero devices: the only module that imports gpiozero.

``build_inputs()`` creates one gpiozero device per ``InputSpec`` on the injected pin
factory and turns its events into ``Interaction`` values handed to a callback. The
callback runs in whatever thread gpiozero fires from (the caller of ``drive_low()`` on
a MockPin, a driver thread on a real Pi, the sampling thread of a MotionSensor), so it
must only hand off, never do I/O.

Debouncing is ours: MockPin ignores ``bounce_time``, and on a real Pi we want the same
behaviour we test. An event within ``debounce`` seconds (monotonic) of the previous
*accepted* event on the same input is dropped.

Driving inputs on a ``MockFactory`` (tests, the simulator):

- Button (pull-up): ``factory.pin(17).drive_low()`` is a press, counted synchronously in
  the calling thread; ``drive_high()`` releases it.
- MotionSensor: gpiozero samples the pin from a background thread ``sample_rate_hz``
  times a second (queue of one reading, threshold 0.5), so a detection is counted only
  once a sample has seen the pin high. Drive it with ``pin.drive_high()``, then
  ``bank.device(name).wait_for_motion(timeout)``; end it with ``pin.drive_low()`` and
  ``wait_for_no_motion(timeout)``. ``pulse_motion()`` does exactly that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from gpiozero import BadPinFactory, Button, GPIOZeroError, MotionSensor

from device.clock import Clock, SystemClock
from device.config import InputKind, InputSpec
from device.errors import InputError
from device.events import Interaction

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 2.0
"""How long build_inputs waits for a motion sensor's first reading."""


class Debouncer:
    """Per-input debounce on monotonic time; safe to call from several threads."""

    def __init__(self, windows: dict[str, float]) -> None:
        self._windows = dict(windows)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, name: str, mono: float) -> bool:
        """True if an event on ``name`` at ``mono`` counts, and remember it if so."""
        window = self._windows.get(name, 0.0)
        with self._lock:
            last = self._last.get(name)
            if last is not None and mono - last < window:
                return False
            self._last[name] = mono
            return True


class InputBank:
    """The gpiozero devices of one exhibit, by input name; ``close()`` releases their pins."""

    def __init__(self, devices: dict[str, Any]) -> None:
        self._devices = devices

    @property
    def names(self) -> list[str]:
        """Input names, in configuration order."""
        return list(self._devices)

    def device(self, name: str) -> Any:
        """The gpiozero device behind input ``name`` (a Button or a MotionSensor)."""
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


def _handler(
    name: str,
    clock: Clock,
    debouncer: Debouncer,
    on_interaction: Callable[[Interaction], None],
) -> Callable[[], None]:
    def fire() -> None:
        mono = clock.monotonic()
        if debouncer.accept(name, mono):
            on_interaction(Interaction(name, clock.wall(), mono))

    return fire


def _settle(sensor: Any, name: str) -> None:
    # A smoothed sensor's first sample only sets its initial state and fires nothing, so a
    # pin driven before that sample would be missed: wait for it.
    step = 0.01
    waited = 0.0
    while waited < SETTLE_TIMEOUT_S:
        if sensor.wait_for_inactive(step) or sensor.wait_for_active(0):
            return
        waited += step
    log.warning("motion sensor %s gave no reading within %.1fs", name, SETTLE_TIMEOUT_S)


def _create(spec: InputSpec, pin_factory: Any) -> Any:
    if spec.kind is InputKind.BUTTON:
        return Button(spec.pin, pull_up=True, pin_factory=pin_factory)
    return MotionSensor(
        spec.pin,
        queue_len=1,
        sample_rate=spec.sample_rate_hz,
        threshold=0.5,
        pin_factory=pin_factory,
    )


def build_inputs(
    specs: Iterable[InputSpec],
    *,
    pin_factory: Any,
    on_interaction: Callable[[Interaction], None],
    clock: Clock | None = None,
) -> InputBank:
    """Create the gpiozero devices for ``specs`` and route their events to ``on_interaction``.

    ``pin_factory`` None lets gpiozero choose (``GPIOZERO_PIN_FACTORY``, lgpio on a Pi).
    Raises InputError (with every device already created closed) if a pin cannot be used.
    """
    clock = clock or SystemClock()
    specs = list(specs)
    debouncer = Debouncer({spec.name: spec.debounce for spec in specs})
    devices: dict[str, Any] = {}
    try:
        for spec in specs:
            try:
                device = _create(spec, pin_factory)
            except BadPinFactory as exc:
                raise InputError(
                    f"no usable GPIO pin library for input {spec.name!r}: {exc}; on a Pi "
                    "install python3-lgpio, elsewhere set GPIOZERO_PIN_FACTORY=mock"
                ) from exc
            except (GPIOZeroError, ValueError) as exc:
                raise InputError(
                    f"input {spec.name!r} ({spec.kind.value}) on GPIO{spec.pin}: {exc}; "
                    "check the pin number and that no other program holds the pin"
                ) from exc
            devices[spec.name] = device
            fire = _handler(spec.name, clock, debouncer, on_interaction)
            if spec.kind is InputKind.BUTTON:
                device.when_pressed = fire
            else:
                _settle(device, spec.name)
                device.when_motion = fire
    except BaseException:
        InputBank(devices).close()
        raise
    return InputBank(devices)


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
