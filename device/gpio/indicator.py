"""The indicator LED: identify blinks for a technician, error blinks when the agent is stuck.

Patterns (gpiozero blinks in its own background thread; nothing here sleeps):

- identify: 0.25 s on / 0.25 s off for the requested seconds;
- error: a short flash every second for as long as the error lasts (broker refused the
  credentials or the ACL refused the counts; the identity of the machine is wrong).

Identify wins while it lasts; an error still present afterwards resumes (the worker calls
``tick()`` each turn). Without a configured LED every call is a no-op, so the agent never
needs to ask whether an LED exists.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)

IDENTIFY_ON_S = 0.25
ERROR_FLASH_S = 0.1
ERROR_PERIOD_S = 1.0


class Lamp(Protocol):
    """What the indicator needs of a gpiozero LED or PWMLED."""

    def blink(self, on_time: float = ..., off_time: float = ..., n: int | None = ...) -> None:
        """Blink in the background, ``n`` times (None: forever)."""
        ...

    def off(self) -> None:
        """Turn off (and stop any blinking)."""
        ...

    def close(self) -> None:
        """Release the pin."""
        ...


class Indicator:
    """Drives one optional LED; safe to call from the worker and the main thread."""

    def __init__(self, lamp: Lamp | Any | None) -> None:
        self._lamp = lamp
        self._lock = threading.Lock()
        self._error: str | None = None
        self._identify_until = 0.0  # time.monotonic(): gpiozero blinks in real time

    @property
    def present(self) -> bool:
        """Whether an LED is configured."""
        return self._lamp is not None

    @property
    def error(self) -> str | None:
        """The error being shown, if any."""
        return self._error

    def identify(self, seconds: float) -> None:
        """Blink for ``seconds`` so a technician can find this exhibit."""
        if self._lamp is None:
            log.warning("identify for %.0fs asked, but no indicator LED is configured", seconds)
            return
        with self._lock:
            self._identify_until = time.monotonic() + seconds
            blinks = max(1, math.ceil(seconds / (2 * IDENTIFY_ON_S)))
            self._lamp.blink(on_time=IDENTIFY_ON_S, off_time=IDENTIFY_ON_S, n=blinks)

    def show_error(self, reason: str) -> None:
        """Flash the error pattern until ``clear_error()`` (after any identify)."""
        with self._lock:
            if self._error == reason:
                return
            self._error = reason
            if self._lamp is not None and time.monotonic() >= self._identify_until:
                self._flash_error()

    def clear_error(self) -> None:
        """The error is gone: stop flashing (an identify in progress goes on)."""
        with self._lock:
            if self._error is None:
                return
            self._error = None
            if self._lamp is not None and time.monotonic() >= self._identify_until:
                self._lamp.off()

    def tick(self) -> None:
        """Resume the error pattern once an identify has run out."""
        with self._lock:
            if self._identify_until and time.monotonic() >= self._identify_until:
                self._identify_until = 0.0
                if self._error is not None and self._lamp is not None:
                    self._flash_error()

    def _flash_error(self) -> None:
        assert self._lamp is not None
        self._lamp.blink(on_time=ERROR_FLASH_S, off_time=ERROR_PERIOD_S - ERROR_FLASH_S, n=None)

    def close(self) -> None:
        """Turn the LED off and release its pin."""
        if self._lamp is not None:
            lamp, self._lamp = self._lamp, None
            lamp.off()
            lamp.close()
