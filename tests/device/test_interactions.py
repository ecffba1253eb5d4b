"""Interaction rules without pins: our debounce, holds and rotary turns on a fake clock."""

from __future__ import annotations

from device.clock import FakeClock
from device.events import Interaction
from device.interactions import Debouncer, InteractionRules
from device.wiring import BeamInput, ButtonInput, MotionInput, RotaryInput


def test_debouncer_ignores_events_too_close_to_the_last_accepted_one() -> None:
    debounce = Debouncer({"a": 0.05, "b": 0.0})
    assert debounce.accept("a", 10.00)
    assert not debounce.accept("a", 10.03)
    assert not debounce.accept("a", 10.049)
    assert debounce.accept("a", 10.05)  # measured from the accepted one at 10.00
    assert debounce.accept("b", 10.05)  # inputs are independent
    assert debounce.accept("b", 10.05)  # zero window: everything counts


def rules_for(*specs: object, clock: FakeClock) -> tuple[InteractionRules, list[Interaction]]:
    seen: list[Interaction] = []
    return InteractionRules(specs, clock=clock, emit=seen.append), seen  # type: ignore[arg-type]


def test_each_kind_debounces_with_its_own_window(clock: FakeClock) -> None:
    rules, seen = rules_for(
        ButtonInput(name="button", pin=17),  # 0.05 s by default
        BeamInput(name="beam", pin=6),  # 0.1 s by default
        MotionInput(name="pir", pin=4, debounce_s=5),  # a PIR re-triggering while one stands
        clock=clock,
    )
    for _ in range(4):
        for name in ("button", "beam", "pir"):
            rules.activated(name)
        clock.advance(0.07)
    counts = {name: sum(i.input == name for i in seen) for name in ("button", "beam", "pir")}
    assert counts == {"button": 4, "beam": 2, "pir": 1}


def test_a_hold_counts_on_release_only_after_an_accepted_long_press(clock: FakeClock) -> None:
    rules, seen = rules_for(ButtonInput(name="b", pin=17, hold_s=2), clock=clock)
    rules.released("b")  # a release without a press (started held): nothing
    rules.activated("b")
    clock.advance(1.99)
    rules.released("b")  # too short
    clock.advance(1)
    rules.activated("b")
    clock.advance(3)
    rules.released("b")
    rules.released("b")  # a bouncing release does not count the hold twice
    assert [i.input for i in seen] == ["b", "b", "b_hold"]


def test_a_rotary_counts_full_groups_of_steps_and_forgets_a_wiggle(clock: FakeClock) -> None:
    rules, seen = rules_for(
        RotaryInput(name="dial", a_pin=20, b_pin=21, steps_per_interaction=3), clock=clock
    )
    for clockwise in [True] * 7 + [False, True, False] + [False] * 3:
        rules.stepped("dial", clockwise=clockwise)
    # 7 cw: two interactions, 1 left; the wiggle restarts each time; then ccw x4 -> one.
    assert [i.input for i in seen] == ["dial_cw", "dial_cw", "dial_ccw"]
