"""Interaction rules without pins: stable-level debounce on both edges, holds, rotary turns.

The wide search is here, on a fake clock (fast): hypothesis draws presses with bounce on
either edge, holds and idles, and worker turns at random moments. Real pins in real time
through the real agent: ``test_bounce.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.core.clock import FakeClock
from device.core.events import Interaction
from device.gpio.interactions import InteractionRules
from device.settings.wiring import BeamInput, ButtonInput, InputSpec, MotionInput, RotaryInput


def rules_for(*specs: InputSpec, clock: FakeClock) -> tuple[InteractionRules, list[Interaction]]:
    seen: list[Interaction] = []
    rules = InteractionRules(specs, clock=clock, emit=seen.append)
    for spec in specs:
        if not isinstance(spec, RotaryInput):
            rules.start(spec.name, False)
    return rules, seen


def toggle(
    rules: InteractionRules, clock: FakeClock, name: str, runs: list[float], *, start: bool = True
) -> None:
    """An edge at the start of each run, ``start`` first, then alternating, each held runs[i]."""
    for index, length in enumerate(runs):
        rules.level(name, (index % 2 == 0) is start)
        clock.advance(length)


def test_a_bounce_changes_nothing_until_the_new_level_holds(clock: FakeClock) -> None:
    rules, seen = rules_for(ButtonInput(name="b", pin=17), clock=clock)  # 0.03 s both edges
    toggle(rules, clock, "b", [0.002] * 20)  # 40 ms of chatter, ending released
    assert seen == []
    assert rules.settle() == []
    pressed_at = clock.monotonic()
    rules.level("b", True)  # this time it stays pressed
    clock.advance(0.029)
    assert rules.settle() == []
    clock.advance(0.002)
    (press,) = rules.settle()
    # Stamped when the stable level began, not when the debounce confirmed it.
    assert (press.input, press.mono) == ("b", pressed_at)
    assert press.wall == clock.wall() - timedelta(seconds=0.031)


def test_release_bounce_is_no_press(clock: FakeClock) -> None:
    """The bug of the first release: each release bounce 150 ms after a press counted."""
    rules, seen = rules_for(ButtonInput(name="b", pin=17), clock=clock)
    for _ in range(10):
        rules.level("b", True)
        clock.advance(0.15)
        toggle(rules, clock, "b", [0.002, 0.003, 0.002, 0.004, 0.002], start=False)
        clock.advance(0.3)
    seen.extend(rules.settle())
    assert [i.input for i in seen] == ["b"] * 10


def test_the_worker_and_the_next_edge_confirm_alike(clock: FakeClock) -> None:
    rules, seen = rules_for(ButtonInput(name="b", pin=17), clock=clock)
    rules.level("b", True)
    assert rules.due() == pytest.approx(clock.monotonic() + 0.03)
    clock.advance(0.05)
    rules.level("b", False)  # the next edge finds the press held 50 ms: counted now
    assert [i.input for i in seen] == ["b"]
    assert rules.due() == pytest.approx(clock.monotonic() + 0.03)
    clock.advance(0.05)
    assert rules.settle() == []  # a release counts nothing, but it is confirmed
    assert rules.due() is None


def test_a_hold_runs_from_the_stable_press_to_the_stable_release(clock: FakeClock) -> None:
    rules, seen = rules_for(ButtonInput(name="b", pin=17, hold_s=2), clock=clock)
    # A bounced 5 s hold: chatter on both edges, one press and one hold.
    toggle(rules, clock, "b", [0.002] * 20 + [5.0])
    toggle(rules, clock, "b", [0.002, 0.003, 0.002, 0.002, 1.0], start=False)
    seen.extend(rules.settle())
    assert [i.input for i in seen] == ["b", "b_hold"]
    # A bounced press with a clean release keeps its hold too; a short one has none.
    toggle(rules, clock, "b", [0.002] * 4 + [2.5])
    rules.level("b", False)
    clock.advance(1)
    toggle(rules, clock, "b", [0.002] * 4 + [1.0])
    rules.level("b", False)
    clock.advance(1)
    seen.extend(rules.settle())
    assert [i.input for i in seen] == ["b", "b_hold", "b", "b_hold", "b"]
    assert seen[1].origin == "b"


def test_a_zero_debounce_counts_every_edge_at_once(clock: FakeClock) -> None:
    rules, seen = rules_for(ButtonInput(name="b", pin=17, debounce_s=0), clock=clock)
    for _ in range(3):
        rules.level("b", True)
        rules.level("b", False)
    assert [i.input for i in seen] == ["b"] * 3


def test_each_kind_has_its_own_press_and_release_debounce(clock: FakeClock) -> None:
    beam = BeamInput(name="beam", pin=6)  # 10 ms to break, 100 ms to clear
    pir = MotionInput(name="pir", pin=4)  # 0.1 s to trigger, 3 s to clear
    rules, seen = rules_for(beam, pir, clock=clock)
    assert (beam.press_debounce, beam.release_debounce) == (0.01, 0.1)
    # A marble: the beam broken 15 ms, three times, 60 ms apart: the flicker-proof
    # release time merges them into one break.
    for _ in range(3):
        toggle(rules, clock, "beam", [0.015, 0.06])
    # A visitor in front of a PIR that drops out for 2.5 s every 3 s: one presence.
    for _ in range(4):
        toggle(rules, clock, "pir", [3.0, 2.5])
    clock.advance(1)
    seen.extend(rules.settle())
    assert [i.input for i in seen] == ["beam", "pir"]


def test_a_rotary_counts_full_groups_of_steps_and_forgets_a_wiggle(clock: FakeClock) -> None:
    rules, seen = rules_for(
        RotaryInput(name="dial", a_pin=20, b_pin=21, steps_per_interaction=3), clock=clock
    )
    for clockwise in [True] * 7 + [False, True, False] + [False] * 3:
        rules.stepped("dial", clockwise=clockwise)
    # 7 cw: two interactions, 1 left; the wiggle restarts each time; then ccw x4 -> one.
    assert [i.input for i in seen] == ["dial_cw", "dial_cw", "dial_ccw"]


# -- the property ----------------------------------------------------------------------

PRESS_S = 0.03
RELEASE_S = 0.03


@dataclass(frozen=True)
class Press:
    """One press as a hand makes it: bounce runs on each edge, a hold, then idle."""

    press_bounce: list[float]  # alternating levels, starting with the new one
    hold: float
    release_bounce: list[float]
    idle: float
    turns: list[float]  # worker turns, as fractions of the press's whole length


def bounce_runs(limit: float) -> st.SearchStrategy[list[float]]:
    """An even number of runs (the burst ends where it started), each shorter than ``limit``."""
    run = st.floats(min_value=0.0001, max_value=limit * 0.999)
    return st.lists(st.tuples(run, run), max_size=15).map(
        lambda pairs: [x for p in pairs for x in p]
    )


presses = st.builds(
    Press,
    press_bounce=bounce_runs(min(PRESS_S, RELEASE_S)),
    hold=st.floats(min_value=PRESS_S * 1.001, max_value=3.0),
    release_bounce=bounce_runs(min(PRESS_S, RELEASE_S)),
    idle=st.floats(min_value=RELEASE_S * 1.001, max_value=1.0),
    turns=st.lists(st.floats(min_value=0, max_value=1), max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(presses, min_size=1, max_size=12), st.floats(min_value=0.2, max_value=5))
def test_every_press_counts_once_whatever_its_bounce(sequence: list[Press], hold_s: float) -> None:
    """Bounce shorter than the debounce, on either edge: count == presses, holds exact."""
    clock = FakeClock()
    spec = ButtonInput(name="b", pin=17, debounce_s=PRESS_S, hold_s=hold_s)
    rules, seen = rules_for(spec, clock=clock)
    stable_from: list[float] = []
    holds = 0
    for press in sequence:
        # Worker turns fall anywhere in the press; each runs settle() at that moment.
        edges = [*press.press_bounce, press.hold, *press.release_bounce, press.idle]
        total = sum(edges)
        turns = sorted(t * total for t in press.turns)
        elapsed = 0.0
        for index, length in enumerate(edges):
            rules.level("b", index % 2 == 0)  # bursts have an even number of runs
            if index == len(press.press_bounce):
                stable_from.append(clock.monotonic())
            if index == len(press.press_bounce) + 1 + len(press.release_bounce):
                released_at = clock.monotonic()
            while turns and turns[0] < elapsed + length:
                step = turns.pop(0) - elapsed
                clock.advance(step)
                elapsed += step
                length -= step
                seen.extend(rules.settle())
            clock.advance(length)
            elapsed += length
        holds += released_at - stable_from[-1] >= hold_s
    seen.extend(rules.settle())
    assert [i.mono for i in seen if i.input == "b"] == stable_from
    assert sum(i.input == "b_hold" for i in seen) == holds
