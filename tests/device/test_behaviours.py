"""Outputs and behaviours in the real agent, on MockFactory pins and a fake clock.

A press lights the LED for 5 s; attract mode starts after the idle time and stops at the
next event; outputs start and stop in their safe state; beams, holds, turns and distance
drive relays, buzzers, servos and motors; quiet hours drive nothing; and however slow an
output is, counting never waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.core.clock import FakeClock
from device.gpio.behaviours import in_quiet_hours
from device.gpio.mock import turn
from device.runtime.agent import Agent
from device.settings.wiring import RotaryInput
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink

INPUTS = [
    {"name": "button", "kind": "button", "pin": 17, "hold_s": 2},
    {"name": "beam", "kind": "beam", "pin": 22},
    {"name": "knob", "kind": "rotary", "a_pin": 20, "b_pin": 21, "steps_per_interaction": 1},
]
OUTPUTS = [
    {"name": "lamp", "kind": "led", "pin": 5},
    {"name": "fan", "kind": "motor", "forward_pin": 7, "backward_pin": 8},
    {"name": "door", "kind": "relay", "pin": 26, "active_high": False},
    {"name": "arm", "kind": "servo", "pin": 18, "safe_angle": 0},
    {"name": "horn", "kind": "tonal_buzzer", "pin": 13},
    {"name": "glow", "kind": "pwmled", "pin": 12},
]
LAMP_5_S = {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}


@pytest.fixture
def pwm() -> Iterator[MockFactory]:
    """Mock pins that can do PWM (servos, motors, PWM LEDs, tones)."""
    pins = MockFactory(pin_class=MockPWMPin)
    yield pins
    pins.reset()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)


def stays(check: Callable[[], bool], seconds: float = 0.25) -> None:
    """``check`` holds for ``seconds`` of real time (the engine looks every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check()
        time.sleep(0.01)


def press(factory: MockFactory, clock: FakeClock, pin: int = 17, hold: float = 0.05) -> None:
    factory.pin(pin).drive_low()
    clock.advance(hold)
    factory.pin(pin).drive_high()  # this edge confirms the press (it held 30 ms)


def start(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, **more: Any
) -> Agent:
    settings = make_settings(inputs=INPUTS, outputs=OUTPUTS, **more)
    agent = Agent(settings, pin_factory=factory, clock=clock, link=FakeLink())
    agent.start()
    return agent


def test_a_press_lights_the_led_for_5_s_and_is_counted(
    make_settings: SettingsMaker, pwm: MockFactory, clock: FakeClock
) -> None:
    agent = start(make_settings, pwm, clock, behaviours=[LAMP_5_S])
    try:
        lamp = agent.controller.outputs.device("lamp")
        assert not lamp.is_lit
        press(pwm, clock)
        eventually(lambda: lamp.is_lit)
        clock.advance(4.9)  # the press was handled at most 0.05 s before now
        stays(lambda: lamp.is_lit)
        clock.advance(0.2)
        eventually(lambda: not lamp.is_lit)
        assert agent.wait_recorded(5)
        assert agent.interactions_recorded == 1
        press(pwm, clock)  # again: 5 s from this press
        eventually(lambda: lamp.is_lit)
        clock.advance(3)
        press(pwm, clock)  # a press before the end restarts the 5 s
        clock.advance(3)
        stays(lambda: lamp.is_lit)
        clock.advance(2.5)
        eventually(lambda: not lamp.is_lit)
    finally:
        agent.stop()


def test_attract_mode_starts_after_the_idle_time_and_stops_at_the_next_event(
    make_settings: SettingsMaker, pwm: MockFactory, clock: FakeClock
) -> None:
    attract = {
        "idle_s": 120,
        "actions": [{"output": "door", "action": "on"}, {"output": "glow", "action": "pulse"}],
    }
    agent = start(make_settings, pwm, clock, attract=attract, behaviours=[LAMP_5_S])
    try:
        outputs = agent.controller.outputs
        door, glow = outputs.device("door"), outputs.device("glow")
        clock.advance(119)
        stays(lambda: not door.is_active)
        clock.advance(2)
        eventually(lambda: door.is_active)
        assert pwm.pin(26).state == 0  # active low: on is a low pin
        eventually(lambda: glow.value > 0)  # pulsing (gpiozero's fade thread)
        press(pwm, clock)
        eventually(lambda: not door.is_active and outputs.device("lamp").is_lit)
        eventually(lambda: glow.value == 0)
        clock.advance(100)  # idle again, but not long enough
        stays(lambda: not door.is_active)
        clock.advance(30)
        eventually(lambda: door.is_active)
    finally:
        agent.stop()


def test_outputs_start_and_stop_in_their_safe_state(
    make_settings: SettingsMaker, pwm: MockFactory, clock: FakeClock
) -> None:
    rules = [
        {"input": "beam", "event": "beam_broken", "output": "fan", "action": "speed", "speed": 0.6},
        {"input": "beam", "event": "beam_broken", "output": "door", "action": "on"},
        {"input": "knob", "event": "rotation", "direction": "cw",
         "output": "arm", "action": "angle", "angle": 45},
    ]  # fmt: skip
    agent = start(make_settings, pwm, clock, behaviours=rules)
    outputs = agent.controller.outputs
    fan, door, arm = (outputs.device(n) for n in ("fan", "door", "arm"))
    assert (fan.value, door.is_active, arm.angle) == (0, False, 0)
    assert pwm.pin(26).state == 1  # an active-low relay is off with its pin high
    pwm.pin(22).drive_low()  # the beam breaks
    clock.advance(0.02)
    pwm.pin(22).drive_high()
    eventually(lambda: fan.value == pytest.approx(0.6) and door.is_active)
    knob = RotaryInput(name="knob", a_pin=20, b_pin=21, steps_per_interaction=1)
    turn(pwm, knob, 1)
    eventually(lambda: arm.angle == pytest.approx(45, abs=1))
    agent.stop()
    assert [s.state for s in pwm.pin(7).states][-2:] == [0.6, 0]  # the motor stopped
    # The relay was switched off (pin high) before its pin was released (a mock pin then
    # reads 0 as an input; on a Pi the board's pull-up keeps it off).
    assert [s.state for s in pwm.pin(26).states][-3:] == [0, 1, 0]
    assert [s.state for s in pwm.pin(18).states][-2] == pytest.approx(0.075)  # 1.5 ms: 0°


def test_beam_hold_and_quiet_hours(
    make_settings: SettingsMaker, pwm: MockFactory, tmp_path: Any
) -> None:
    clock = FakeClock(wall=datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    local = clock.wall().astimezone()
    quiet = {"start": (local.replace(hour=(local.hour + 1) % 24)).strftime("%H:00"),
             "end": (local.replace(hour=(local.hour + 3) % 24)).strftime("%H:00")}  # fmt: skip
    rules = [
        {"input": "beam", "event": "beam_broken", "output": "fan", "action": "on"},
        {"input": "beam", "event": "beam_restored", "output": "fan", "action": "off"},
        {"input": "button", "event": "hold",
         "output": "horn", "action": "tone", "frequency_hz": 440},
        {"input": "button", "event": "release", "output": "horn", "action": "off"},
    ]  # fmt: skip
    agent = start(make_settings, pwm, clock, behaviours=rules, quiet_hours=quiet)
    try:
        outputs = agent.controller.outputs
        fan, horn = outputs.device("fan"), outputs.device("horn")
        pwm.pin(22).drive_low()
        clock.advance(0.02)
        pwm.pin(22).drive_high()  # broken for 20 ms, then the beam is back ...
        eventually(lambda: fan.value == 1)
        clock.advance(0.2)  # ... and stays back past its 100 ms release debounce
        eventually(lambda: fan.value == 0)
        pwm.pin(17).drive_low()
        clock.advance(0.05)
        pwm.pin(17).drive_low()  # still pressed; the worker confirms it
        stays(lambda: horn.value is None, 0.1)
        clock.advance(2)  # held 2 s: a hold, while still pressed
        eventually(lambda: horn.value is not None)
        pwm.pin(17).drive_high()
        clock.advance(0.1)
        eventually(lambda: horn.value is None)  # released: off
        clock.advance(3600)  # into the quiet hours
        pwm.pin(22).drive_low()
        clock.advance(0.02)
        pwm.pin(22).drive_high()
        stays(lambda: fan.value == 0)
        assert agent.wait_recorded(5)
        assert agent.interactions_recorded >= 3  # counted all the same
    finally:
        agent.stop()


def test_quiet_hours_across_midnight() -> None:
    hours = {"start": "22:00", "end": "07:30"}
    at = [
        datetime(2026, 3, 2, h, m, tzinfo=UTC)
        for h, m in ((21, 59), (22, 0), (3, 0), (7, 29), (7, 30))
    ]
    assert [in_quiet_hours(t, hours) for t in at] == [False, True, True, True, False]
    day = {"start": "09:00", "end": "17:00"}
    assert [in_quiet_hours(t, day) for t in at] == [False, False, False, False, False]


def test_a_slow_output_never_delays_counting(
    make_settings: SettingsMaker, pwm: MockFactory, clock: FakeClock
) -> None:
    agent = start(make_settings, pwm, clock, behaviours=[LAMP_5_S])
    try:
        outputs = agent.controller.outputs
        real_act = outputs.act

        def slow(name: str, action: str, settings: Any) -> None:
            time.sleep(0.5)  # a servo that takes its time, a stuck driver
            real_act(name, action, settings)

        outputs.act = slow  # type: ignore[method-assign]
        begun = time.monotonic()
        for _ in range(20):
            press(pwm, clock)
            clock.advance(0.1)
        assert agent.wait_recorded(2)
        assert agent.interactions_recorded == 20
        assert time.monotonic() - begun < 2  # 20 actions would take 10 s
        assert agent.controller.behaviours is not None
        assert agent.controller.behaviours.acted < 20
    finally:
        agent.stop()


def test_on_the_machines_clock_a_timed_action_ends_on_time_without_polling(
    make_settings: SettingsMaker, pwm: MockFactory
) -> None:
    from device.core.clock import SystemClock

    rule = {**LAMP_5_S, "seconds": 0.3}
    settings = make_settings(inputs=INPUTS, outputs=OUTPUTS, behaviours=[rule])
    agent = Agent(settings, pin_factory=pwm, clock=SystemClock(), link=FakeLink())
    agent.start()
    try:
        lamp = agent.controller.outputs.device("lamp")
        pwm.pin(17).drive_low()
        time.sleep(0.05)  # held past the 30 ms debounce
        pwm.pin(17).drive_high()
        eventually(lambda: lamp.is_lit, timeout=2)
        lit_at = time.monotonic()
        eventually(lambda: not lamp.is_lit, timeout=2)
        assert 0.15 < time.monotonic() - lit_at < 1.0  # 0.3 s from the press, not 30 s
    finally:
        agent.stop()
