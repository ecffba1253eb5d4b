"""No command eats a school's presses: expiry without a synced clock, force, outcome reports.

The report that started this: a retained ``self_test`` sent while an exhibit was packed
ran later at a school on an unsynced clock, took up to 600 s of pupils' presses, and was
never cleared. Here the agent judges each command (``device.ops.commands``): expired by its
synced clock or not delivered at all by the broker (MQTT v5 expiry, its clock), refused
while it holds a visit unless forced, and reports every outcome on the ``done`` channel
until the broker has it; a self-test's result says what it took out of the counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment, Command, CommandDone, SelfTestResult
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.runtime.agent import Agent
from tests.device import hands
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, eventually

EXHIBIT = "exhibit-001"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # FakeClock's start
PACKED = NOW - timedelta(days=3)  # sent while the exhibit was in the van


def deliver_command(
    link: FakeLink,
    command_id: str,
    *,
    action: str = "self_test",
    issued_at: datetime = NOW,
    expires_in: timedelta | None = timedelta(minutes=10),
    force: bool = False,
    expiry_s: int | None = None,
) -> None:
    """A retained command as the broker delivers it (``expiry_s``: MQTT v5 time left)."""
    message = Command(
        exhibit_id=EXHIBIT,
        command_id=command_id,
        action=action,
        seconds=30,
        issued_at=issued_at,
        expires_at=None if expires_in is None else issued_at + expires_in,
        force=force or None,
    )
    link.deliver(exhibit_topic(EXHIBIT, Channel.COMMAND), message.to_payload(), expiry_s)


def reports(link: FakeLink) -> list[CommandDone]:
    return [CommandDone.model_validate_json(s.message.payload) for s in link.published("/done")]


@pytest.fixture
def start(make_settings: SettingsMaker, factory: MockFactory) -> Iterator[object]:
    """Start an agent on a clock synced or not, assigned to visit 77 or not."""
    started: list[Agent] = []

    def run(*, synced: bool, visit: int | None) -> tuple[Agent, FakeLink, FakeClock]:
        clock = FakeClock(synced=synced)
        link = FakeLink(auto_ack=True)
        agent = Agent(make_settings(), pin_factory=factory, clock=clock, link=link)
        agent.start()
        started.append(agent)
        eventually(lambda: agent.clock_synced is synced, what="the clock state")
        link.connect()
        if visit is not None:
            assignment = Assignment(exhibit_id=EXHIBIT, visit_id=visit, issued_at=PACKED)
            link.deliver(exhibit_topic(EXHIBIT, Channel.ASSIGNMENT), assignment.to_payload())
            eventually(lambda: agent.visit_id == visit, what="the assignment")
        return agent, link, clock

    yield run
    for agent in started:
        agent.stop()


def test_a_self_test_sent_while_packed_takes_no_presses_at_the_school(
    start: object, factory: MockFactory
) -> None:
    """The report's case: checked out, clock unsynced, an old retained self-test."""
    agent, link, clock = start(synced=False, visit=77)  # type: ignore[operator]
    deliver_command(link, "packed", issued_at=PACKED)
    assert agent.wait_recorded(5)
    assert not agent.self_testing
    hands.press(factory, clock, times=3)  # pupils press
    assert agent.flush(5)
    assert link.counted() == {"button": 3}
    eventually(lambda: bool(reports(link)), what="the report")
    (report,) = reports(link)
    assert (report.command_id, report.outcome, report.visit_id) == (
        "packed",
        "refused_in_visit",
        77,
    )
    assert report.clock_synced is False


@pytest.mark.parametrize(
    ("synced", "visit", "force", "expiry_s", "expires_in", "outcome"),
    [
        # A synced clock judges the command's own expiry ...
        (True, None, False, None, timedelta(minutes=10), "ran"),
        (True, None, False, None, timedelta(seconds=-1), "expired"),
        (True, None, False, 300, timedelta(days=-3), "expired"),  # even if the broker erred
        # ... an unsynced one cannot, and runs a self-test only outside a visit ...
        (False, None, False, None, timedelta(days=-3), "ran"),
        (False, 77, False, 300, timedelta(minutes=10), "refused_in_visit"),
        # ... and a forced one in a visit only when someone can tell its age: the broker
        # (it delivered the command with time left) or the synced clock.
        (False, 77, True, None, timedelta(minutes=10), "refused_unknown_age"),
        (False, 77, True, 300, timedelta(minutes=10), "ran"),
        (True, 77, True, None, timedelta(minutes=10), "ran"),
        (True, 77, False, None, timedelta(minutes=10), "refused_in_visit"),
        # Without an expiry of its own (an older fleet): command_max_age_s, if synced.
        (True, None, False, None, None, "ran"),
    ],
)
def test_each_command_is_judged_and_reported_once(
    start: object,
    synced: bool,
    visit: int | None,
    force: bool,
    expiry_s: int | None,
    expires_in: timedelta | None,
    outcome: str,
) -> None:
    agent, link, _clock = start(synced=synced, visit=visit)  # type: ignore[operator]
    deliver_command(link, "c-1", force=force, expiry_s=expiry_s, expires_in=expires_in)
    assert agent.wait_recorded(5)
    assert agent.self_testing is (outcome == "ran")
    eventually(lambda: bool(reports(link)), what="the report")
    link.drop()  # reconnecting redelivers the retained command: not judged again
    link.connect()
    deliver_command(link, "c-1", force=force, expiry_s=expiry_s, expires_in=expires_in)
    assert agent.wait_recorded(5)
    assert agent.wait_recorded(5)
    (report,) = reports(link)
    assert (report.outcome, report.action, report.clock_synced) == (outcome, "self_test", synced)


def test_an_identify_runs_on_an_unsynced_clock_even_in_a_visit(start: object) -> None:
    """A blink harms nobody: only a self-test takes presses."""
    agent, link, _clock = start(synced=False, visit=77)  # type: ignore[operator]
    deliver_command(link, "blink", action="identify", issued_at=PACKED)
    assert agent.wait_recorded(5)
    eventually(lambda: bool(reports(link)), what="the report")
    assert [r.outcome for r in reports(link)] == ["ran"]


def test_a_report_waits_in_the_outbox_until_the_broker_has_it(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings()
    link = FakeLink()  # answers nothing by itself
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        deliver_command(link, "c-2")
        eventually(lambda: len(link.published("/done")) == 1, what="the first send")
    # Restarted (a power cut before the PUBACK): the report goes again, the command not.
    again = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=again) as agent:
        again.connect()
        deliver_command(again, "c-2")
        eventually(lambda: len(again.published("/done")) == 1, what="the report again")
        assert agent.wait_recorded(5)
        assert not agent.self_testing  # noted before it ran the first time
    with Agent(settings, pin_factory=factory, clock=clock, link=FakeLink(auto_ack=True)) as agent:
        assert agent.wait_recorded(5)
    assert [r.command_id for r in reports(again)] == ["c-2"]


def test_a_self_test_reports_every_press_it_took_and_loses_none(
    start: object, factory: MockFactory
) -> None:
    """A forced self-test in a visit: the pupils' presses are the result's, counted there."""
    agent, link, clock = start(synced=True, visit=77)  # type: ignore[operator]
    hands.press(factory, clock, times=2)  # before: a visitor's
    assert agent.wait_recorded(5)
    deliver_command(link, "check", force=True)
    assert agent.wait_recorded(5)
    assert agent.self_testing
    hands.press(factory, clock, times=4)  # during the window: taken, not counted
    factory.pin(4).drive_high()  # the PIR sees someone for 5 s
    clock.advance(5)
    factory.pin(4).drive_low()
    clock.advance(30)
    eventually(lambda: bool(link.published("/selftest")), what="the result")
    hands.press(factory, clock, times=1)  # after: a visitor's again
    assert agent.flush(5)
    result = SelfTestResult.model_validate_json(link.published("/selftest")[-1].message.payload)
    assert result.taken == {"button": 4, "motion": 1}
    assert result.seen == {"button": True, "motion": True}
    assert link.counted() == {"button": 3}  # 2 + 1: the 4 of the window are in `taken`
