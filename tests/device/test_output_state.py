"""What an output does, read back (``OutputBank.state``), and the behaviour engine caught up
with a clock that jumps (``Behaviours.settle``): what the simulator's output checks use.

No sleeps: after ``settle()`` the engine has handled every fact given to it and looked at
the clock as it is, so a state read at a simulated moment is the state of that moment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.core.clock import FakeClock
from device.gpio.behaviours import Behaviours
from device.gpio.outputs import OutputBank, build_outputs

OUTPUTS = [
    {"name": "lamp", "kind": "led", "pin": 5},
    {"name": "sign", "kind": "led", "pin": 6, "safe": "on"},
    {"name": "rgb", "kind": "rgbled", "red_pin": 9, "green_pin": 10, "blue_pin": 11},
    {"name": "arm", "kind": "servo", "pin": 18, "min_angle": -90, "max_angle": 90},
    {"name": "horn", "kind": "tonal_buzzer", "pin": 13},
    {"name": "fan", "kind": "motor", "forward_pin": 7, "backward_pin": 8},
]


@pytest.fixture
def bank() -> Iterator[OutputBank]:
    pins = MockFactory(pin_class=MockPWMPin)
    outputs = build_outputs(OUTPUTS, pin_factory=pins)
    yield outputs
    outputs.close()
    pins.reset()


def test_every_output_starts_safe_and_says_so(bank: OutputBank) -> None:
    states = {name: bank.state(name) for name in bank.names}
    assert {state["doing"] for state in states.values()} == {"safe"}
    assert states["lamp"]["active"] is False
    assert states["sign"]["active"] is True  # its safe state is on
    assert states["rgb"]["value"] == [0.0, 0.0, 0.0]
    assert states["arm"]["angle"] == 0.0
    assert states["horn"]["frequency_hz"] is None
    assert states["fan"]["value"] == 0.0


def test_each_action_is_read_back(bank: OutputBank) -> None:
    bank.act("lamp", "on", {})
    bank.act("rgb", "on", {"color": [1.0, 0.0, 0.5]})
    bank.act("arm", "angle", {"angle": 45})
    bank.act("horn", "tone", {"frequency_hz": 440})
    bank.act("fan", "speed", {"speed": -0.25})
    assert bank.state("lamp") == {"doing": "on", "active": True, "value": 1.0}
    assert bank.state("rgb")["value"] == [1.0, 0.0, 0.5]
    assert bank.state("arm")["angle"] == pytest.approx(45.0)
    assert bank.state("horn")["frequency_hz"] == pytest.approx(440.0)
    assert bank.state("fan") == {"doing": "speed", "active": True, "value": -0.25}
    bank.act("lamp", "blink", {"on_s": 0.2, "off_s": 0.2})
    assert bank.state("lamp")["doing"] == "blink"
    bank.act("arm", "off", {})
    assert bank.state("arm")["angle"] is None  # detached
    for name in bank.names:
        bank.safe(name)
    assert {bank.state(name)["doing"] for name in bank.names} == {"safe"}
    assert bank.state("lamp")["active"] is False


def test_settle_catches_the_engine_up_with_a_jumping_clock(bank: OutputBank) -> None:
    clock = FakeClock()
    engine = Behaviours(
        rules=[
            {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5}
        ],
        inputs={"button": {"kind": "button"}},
        outputs=bank,
        clock=clock,
        attract={"idle_s": 120, "actions": [{"output": "rgb", "action": "pulse"}]},
    )
    assert engine.settle(0.1) is False  # not running: nothing to wait for
    engine.start()
    try:
        engine.changed("button", True, clock.monotonic())
        assert engine.settle()
        assert bank.state("lamp")["doing"] == "on"
        clock.advance(4.9)
        assert engine.settle()
        assert bank.state("lamp")["doing"] == "on"
        clock.advance(0.2)  # 5.1 s after the press
        assert engine.settle()
        assert bank.state("lamp")["doing"] == "safe"
        assert bank.state("rgb")["doing"] == "safe"
        clock.advance(120)  # idle long enough
        assert engine.settle()
        assert bank.state("rgb")["doing"] == "pulse"
        engine.changed("button", False, clock.monotonic())
        assert engine.settle()
        assert bank.state("rgb")["doing"] == "safe"  # the release ended attract mode
    finally:
        engine.stop()
    assert engine.settle(0.1) is False


def test_a_late_fact_does_not_move_idle_time_back(bank: OutputBank) -> None:
    """A release confirmed at the worker's next turn may reach the engine after a turn of
    the dial that came later: attract mode must not start as if the exhibit were idle
    since the release (the campaign's oracle found it, seed 7)."""
    clock = FakeClock()
    engine = Behaviours(
        rules=[],
        inputs={"button": {"kind": "button"}, "dial": {"kind": "rotary"}},
        outputs=bank,
        clock=clock,
        attract={"idle_s": 60, "actions": [{"output": "rgb", "action": "pulse"}]},
    )
    engine.start()
    try:
        released = clock.monotonic()
        clock.advance(120)
        engine.turned("dial", clockwise=True, at=clock.monotonic())
        engine.changed("button", False, released)  # handed over late, with its own time
        clock.advance(2)
        assert engine.settle()
        assert bank.state("rgb")["doing"] == "safe"
        clock.advance(60)
        assert engine.settle()
        assert bank.state("rgb")["doing"] == "pulse"  # idle since the turn, not before
    finally:
        engine.stop()
