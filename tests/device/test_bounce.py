"""Real arcade buttons, in real time, through the real agent: one press counts once.

gpiozero's MockPin ignores ``bounce_time``, so these tests drive the pins the way real
contacts do: every press is a gesture of the simulator's signal model
(``simulator.signals``), bounce on the press and on the release, slept edge by edge in
real time, each wait relative to the edge before it (a stalled thread makes a level last
longer, never shorter). The agent is the real one (``device.runtime.agent.Agent``) with its
default settings, on MockFactory pins and the system clock; the link is the recording
fake, so what it published is what MQTT would carry. The wide search over bounce shapes
runs on a fake clock in ``test_interactions.py``; here a few of them run in real time.

Real time on a shared machine is not exact: a descheduled test process holds a 2 ms
bounce level for 40 ms, and a level held that long *is* a press. The driver measures the
signal it actually made (``hands.press_many``); every press driven as planned must count
exactly once, and a press whose bounce the machine stretched twice may count twice
(``hands.assert_counted`` says how many there were).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from simulator.signals import Bounce, ButtonSignal, Span
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink
from tests.device.hands import IDLE_S, ISSUE_PRESS, assert_counted, press_many

PINS = (17, 27, 22, 23)


def buttons(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"b{n}", "kind": "button", "pin": PINS[n], **extra} for n in range(count)]


@pytest.fixture
def start(make_settings: SettingsMaker, factory: MockFactory) -> Iterator[Any]:
    """Start a real agent (system clock, recording link) with the given inputs."""
    started: list[tuple[Agent, FakeLink]] = []

    def run(inputs: list[dict[str, Any]]) -> tuple[Agent, FakeLink, AgentSettings]:
        settings = make_settings(inputs=inputs, bucket_seconds=3600)
        link = FakeLink(auto_ack=True)
        agent = Agent(settings, pin_factory=factory, link=link)
        agent.start()
        link.connect()
        started.append((agent, link))
        return agent, link, settings

    yield run
    for agent, _link in started:
        agent.stop()


def counted(agent: Agent, link: FakeLink) -> dict[str, int]:
    assert agent.wait_recorded(5)
    assert agent.flush(5)
    return link.counted()


def names(stretched: dict[int, int], pins: tuple[int, ...] = PINS) -> dict[str, int]:
    """``press_many``'s stretched presses by pin, as count names ``b0`` ..."""
    return {f"b{n}": stretched.get(pin, 0) for n, pin in enumerate(pins)}


def test_200_bounced_presses_count_200(start: Any, factory: MockFactory) -> None:
    """The report's press: 200 counted 408. Four buttons, 50 presses each, at once."""
    agent, link, _ = start(buttons(4))
    stretched = press_many(factory, dict.fromkeys(PINS, ISSUE_PRESS), 50, IDLE_S, seed=0)
    expected = {"b0": 50, "b1": 50, "b2": 50, "b3": 50}
    assert_counted(counted(agent, link), expected, names(stretched))
    assert agent.interactions_recorded == sum(link.counted().values())


def test_a_bounce_on_the_release_only_counts_one_per_press(
    start: Any, factory: MockFactory
) -> None:
    agent, link, _ = start(buttons(1))
    clean_press = ISSUE_PRESS.model_copy(update={"press_bounce": Bounce()})
    stretched = press_many(factory, {17: clean_press}, 12, IDLE_S, seed=1)
    assert_counted(counted(agent, link), {"b0": 12}, names(stretched))


def test_a_bounced_hold_counts_one_press_and_one_hold(start: Any, factory: MockFactory) -> None:
    """A bounced 5 s hold (b0), and a bounced press released cleanly after 3 s (b1)."""
    agent, link, _ = start(buttons(2, hold_s=2))
    held = ISSUE_PRESS.model_copy(update={"hold": Span(low=5, high=5)})
    clean_release = ISSUE_PRESS.model_copy(
        update={"hold": Span(low=3, high=3), "release_bounce": Bounce()}
    )
    stretched = names(press_many(factory, {17: held, 27: clean_release}, 1, IDLE_S, seed=2))
    expected = {"b0": 1, "b0_hold": 1, "b1": 1, "b1_hold": 1}
    assert_counted(counted(agent, link), expected, stretched)


def test_a_child_mashing_the_button_8_times_a_second_counts_every_press(
    start: Any, factory: MockFactory
) -> None:
    agent, link, _ = start(buttons(1))
    mashing = ButtonSignal(  # quick jabs bounce less: 1-10 ms closing, 5-10 ms opening
        press_bounce=Bounce(duration=Span(low=0.001, high=0.01), period=0.002),
        hold=Span(low=0.045, high=0.05),
        release_bounce=Bounce(duration=Span(low=0.005, high=0.01), period=0.002),
    )
    started = time.monotonic()
    stretched = press_many(factory, {17: mashing}, 40, 0.05, seed=4)
    assert time.monotonic() - started < 40 / 7  # about 8 a second, even on a busy machine
    assert_counted(counted(agent, link), {"b0": 40}, names(stretched))


@st.composite
def bounce_profiles(draw: st.DrawFn, debounce: float = 0.03) -> ButtonSignal:
    """A button whose bounce, on either edge, never holds a level for the debounce time."""

    def bounce() -> Bounce:
        jitter = draw(st.floats(0, 0.9))
        period = draw(st.floats(0.0005, 0.9 * debounce / (1 + jitter)))
        longest = draw(st.floats(0, 0.05))
        return Bounce(duration=Span(low=0, high=longest), period=period, jitter=jitter)

    hold = draw(st.floats(0.06, 0.25))
    return ButtonSignal(
        press_bounce=bounce(), release_bounce=bounce(), hold=Span(low=hold, high=hold)
    )


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=bounce_profiles(), idle=st.floats(0.06, 0.2), seed=st.integers(0, 2**16))
def test_random_bounce_shorter_than_the_debounce_counts_the_true_presses(
    make_settings: SettingsMaker, profile: ButtonSignal, idle: float, seed: int
) -> None:
    factory = MockFactory()  # one per example: hypothesis runs them in one test's fixtures
    settings_ = make_settings(inputs=buttons(1), bucket_seconds=3600)
    link = FakeLink(auto_ack=True)
    try:
        with Agent(settings_, pin_factory=factory, link=link) as agent:
            link.connect()
            stretched = press_many(factory, {17: profile}, 6, idle, seed)
            assert_counted(counted(agent, link), {"b0": 6}, names(stretched))
    finally:
        factory.reset()
        shutil.rmtree(settings_.data_dir)  # the next example starts afresh
