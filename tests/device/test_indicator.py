"""The indicator LED's patterns: identify wins while it lasts, an error resumes after it."""

from __future__ import annotations

import time

from device.gpio.indicator import ERROR_FLASH_S, IDENTIFY_ON_S, Indicator
from tests.device.fakes import eventually


class FakeLamp:
    """Records what the indicator asked of the LED."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None, int | None]] = []

    def blink(self, on_time: float = 1, off_time: float = 1, n: int | None = None) -> None:
        self.calls.append(("blink", on_time, n))

    def off(self) -> None:
        self.calls.append(("off", None, None))

    def close(self) -> None:
        self.calls.append(("close", None, None))


def test_identify_blinks_for_the_requested_seconds() -> None:
    lamp = FakeLamp()
    Indicator(lamp).identify(3)
    assert lamp.calls == [("blink", IDENTIFY_ON_S, 6)]


def test_an_error_flashes_until_cleared_and_comes_back_after_an_identify() -> None:
    lamp = FakeLamp()
    indicator = Indicator(lamp)
    indicator.show_error("broker refused the connection: Not authorized")
    indicator.show_error("broker refused the connection: Not authorized")  # no restart
    assert lamp.calls == [("blink", ERROR_FLASH_S, None)]
    indicator.identify(0.05)
    indicator.tick()  # identify still running: nothing changes
    assert lamp.calls[-1] == ("blink", IDENTIFY_ON_S, 1)
    deadline = time.monotonic() + 0.05
    eventually(lambda: time.monotonic() > deadline, what="the identify to run out")
    indicator.tick()
    assert lamp.calls[-1] == ("blink", ERROR_FLASH_S, None)
    indicator.clear_error()
    assert lamp.calls[-1] == ("off", None, None)
    assert indicator.error is None
    indicator.close()
    assert lamp.calls[-1] == ("close", None, None)


def test_without_an_led_everything_is_a_no_op() -> None:
    indicator = Indicator(None)
    assert not indicator.present
    indicator.identify(5)
    indicator.show_error("x")
    assert indicator.error == "x"
    indicator.tick()
    indicator.clear_error()
    indicator.close()
