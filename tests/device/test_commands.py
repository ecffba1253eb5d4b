"""What the fleet tells an exhibit: visit assignment, identify and self-test, each once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment, Command, CountRecord, SelfTestResult
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.runtime.agent import Agent
from tests.device import hands
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, eventually

EXHIBIT = "exhibit-001"
ASSIGNMENT = exhibit_topic(EXHIBIT, Channel.ASSIGNMENT)
COMMAND = exhibit_topic(EXHIBIT, Channel.COMMAND)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # FakeClock's start


def assign(link: FakeLink, visit_id: int | None, *, issued_at: datetime = NOW) -> None:
    message = Assignment(exhibit_id=EXHIBIT, visit_id=visit_id, issued_at=issued_at)
    link.deliver(ASSIGNMENT, message.to_payload())


def command(
    link: FakeLink, command_id: str, action: str, seconds: float, *, issued_at: datetime = NOW
) -> None:
    message = Command(
        exhibit_id=EXHIBIT,
        command_id=command_id,
        action=action,  # type: ignore[arg-type]
        seconds=seconds,
        issued_at=issued_at,
    )
    link.deliver(COMMAND, message.to_payload())


def press(agent: Agent, factory: MockFactory, clock: FakeClock, pin: int = 17) -> None:
    hands.press(factory, clock, pin)
    assert agent.wait_recorded(5)


@pytest.fixture
def link() -> FakeLink:
    return FakeLink(auto_ack=True)


@pytest.fixture
def agent(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> Iterator[Agent]:
    settings = make_settings(indicator={"pin": 27}, session_idle_s=30)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as running:
        link.connect()
        yield running


def test_the_visit_assignment_tags_every_new_record_until_cleared(
    agent: Agent, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    press(agent, factory, clock)  # before any assignment
    assign(link, 41)
    eventually(lambda: agent.visit_id == 41, what="visit 41")
    press(agent, factory, clock)
    press(agent, factory, clock)
    assign(link, None, issued_at=NOW + timedelta(hours=1))  # checked in
    eventually(lambda: agent.visit_id is None, what="the assignment cleared")
    press(agent, factory, clock)
    assign(link, 40, issued_at=NOW)  # a stale redelivery of an older assignment
    press(agent, factory, clock)
    assert agent.visit_id is None
    assert agent.flush(5)
    per_visit: dict[int | None, int] = {}
    for record in link.records():
        if isinstance(record, CountRecord):
            per_visit[record.visit_id] = per_visit.get(record.visit_id, 0) + record.count
    assert per_visit == {None: 3, 41: 2}
    # A session belongs to one visit: the assignment ended the first and the clearing the second.
    assert [s.visit_id for s in link.sessions()] == [None, 41, None]
    assert sum(s.interactions for s in link.sessions()) == 5


def test_the_assignment_survives_a_restart(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings()
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as first:
        link.connect()
        assign(link, 9)
        eventually(lambda: first.visit_id == 9, what="the assignment")
    with Agent(settings, pin_factory=factory, clock=clock, link=FakeLink()) as second:
        assert second.visit_id == 9  # before any broker: counted offline for visit 9
        press(second, factory, clock)
        assert second.flush(0.1) is False
    offline = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=offline) as third:
        offline.connect()
        assert third.flush(5)
    assert {r.visit_id for r in offline.records()} == {9}


def test_identify_blinks_the_led_and_each_command_runs_once(
    agent: Agent, factory: MockFactory, link: FakeLink, make_settings: SettingsMaker
) -> None:
    led = factory.pin(27)
    command(link, "id-1", "identify", 0.3)
    eventually(lambda: led.state is True, what="the LED on")
    eventually(lambda: led.state is False and len(led.states) >= 3, what="a blink")
    blinks = len(led.states)
    # The retained command again (a reconnect redelivers it): not run twice.
    link.drop()
    link.connect()
    command(link, "id-1", "identify", 0.3)
    assert agent.wait_recorded(5)
    assert len(led.states) <= blinks + 2  # at most the tail of the first blink


def test_commands_run_once_across_restarts(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings()
    for _ in range(2):
        link = FakeLink(auto_ack=True)
        with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
            link.connect()
            command(link, "test-1", "self_test", 5)
            assert agent.wait_recorded(5)
            ran = agent.self_testing
            clock.advance(6)
            eventually(lambda: not agent.self_testing, what="the window closed")
    assert ran is False  # the second agent remembered test-1 from the outbox


@pytest.mark.parametrize(("synced", "runs"), [(True, False), (False, True)])
def test_an_old_command_is_skipped_only_when_the_clock_can_tell(
    make_settings: SettingsMaker, factory: MockFactory, synced: bool, runs: bool
) -> None:
    clock = FakeClock(synced=synced)
    link = FakeLink(auto_ack=True)
    with Agent(make_settings(), pin_factory=factory, clock=clock, link=link) as agent:
        eventually(lambda: agent.clock_synced is synced, what="the clock state")
        link.connect()
        command(link, "late", "self_test", 5, issued_at=NOW - timedelta(hours=2))
        assert agent.wait_recorded(5)
        assert agent.self_testing is runs


def test_a_self_test_command_publishes_seen_per_input_and_counts_nothing(
    agent: Agent, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    command(link, "check-1", "self_test", 20)
    assert agent.wait_recorded(5)
    assert agent.self_testing
    press(agent, factory, clock)  # the technician presses the button; motion stays quiet
    clock.advance(20)
    eventually(lambda: bool(link.published("/selftest")), what="the result")
    sent = link.published("/selftest")[-1].message
    result = SelfTestResult.model_validate_json(sent.payload)
    assert (sent.topic, sent.qos, sent.retain) == (
        exhibit_topic(EXHIBIT, Channel.SELFTEST),
        1,
        True,
    )
    assert (result.command_id, result.seen, result.passed) == (
        "check-1",
        {"button": True, "motion": False},
        False,
    )
    press(agent, factory, clock)  # after the window: a visitor again
    assert agent.flush(5)
    assert link.counted() == {"button": 1}


def test_an_unacknowledged_self_test_result_is_sent_again_after_reconnecting(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    link = FakeLink()  # answers nothing by itself
    with Agent(make_settings(), pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        command(link, "check-2", "self_test", 1)
        assert agent.wait_recorded(5)
        clock.advance(1)
        eventually(lambda: len(link.published("/selftest")) == 1, what="the first send")
        link.drop()
        link.connect()
        eventually(lambda: len(link.published("/selftest")) == 2, what="the resend")
        link.ack(link.published("/selftest")[-1])
        assert agent.wait_self_test_published(5)
        link.drop()
        link.connect()
        assert agent.wait_recorded(5)
        assert agent.wait_recorded(5)
    assert len(link.published("/selftest")) == 2  # acknowledged: not sent a third time


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # the fleet deleted the retained message
        b"not json",
        Assignment(exhibit_id="exhibit-002", visit_id=5, issued_at=NOW).to_payload(),
    ],
)
def test_empty_malformed_or_misaddressed_messages_change_nothing(
    agent: Agent, link: FakeLink, payload: bytes
) -> None:
    link.deliver(ASSIGNMENT, payload)
    assert agent.wait_recorded(5)
    assert agent.visit_id is None
