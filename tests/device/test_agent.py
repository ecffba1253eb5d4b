"""The agent against a recording fake link: no sockets, the test plays the broker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import CountBatch, Status
from device.core.clock import FakeClock
from device.core.errors import AgentStateError, OutboxError
from device.core.events import Interaction
from device.outbox.store import Outbox
from device.runtime import sender
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, closed_status, eventually
from tests.device.hands import press


@pytest.fixture
def link() -> FakeLink:
    return FakeLink()


@pytest.fixture
def agent(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> Iterator[Agent]:
    running = Agent(make_settings(), pin_factory=factory, clock=clock, link=link)
    running.start()
    yield running
    running.stop()


def seed_records(settings_dir: Outbox, count: int) -> None:
    """Put ``count`` sealed one-press records in an outbox."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    presses = [
        Interaction("button", start + timedelta(seconds=i), 1000.0 + i * 60) for i in range(count)
    ]
    settings_dir.add(presses, boot_id="fake-boot-0001", clock_synced=True)
    settings_dir.seal_all()
    settings_dir.close()


def test_presses_are_counted_flushed_and_deleted_on_ack(
    factory: MockFactory, clock: FakeClock, make_settings: SettingsMaker
) -> None:
    link = FakeLink(auto_ack=True)
    with Agent(make_settings(), pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        press(factory, clock, times=7)
        assert agent.wait_recorded(5)
        assert agent.interactions_recorded == 7
        assert agent.flush(5)
        assert agent.outbox_depth() == 0
    assert link.counted() == {"button": 7}
    (_sent, batch), *_ = link.batches()
    assert batch.exhibit_id == "exhibit-001"
    assert batch.records[0].boot_id == "fake-boot-0001"


def test_buckets_are_sealed_and_sent_when_their_time_is_up(
    agent: Agent, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    link.connect()
    press(factory, clock, times=3)
    assert agent.wait_recorded(5)
    assert link.batches() == []
    clock.advance(60)
    eventually(lambda: len(link.batches()) == 1, what="the sealed bucket to be sent")
    assert link.counted() == {"button": 3}


def test_in_flight_window_is_never_exceeded_and_records_leave_only_on_ack(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    settings = make_settings(inflight_window=3, batch_max_records=2)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 10)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        assert agent.outbox_depth() == 10
        link.connect()
        eventually(lambda: len(link.batches()) == 3, what="a full window")
        assert agent.wait_recorded(1)  # two more worker turns: still no more than 3
        assert agent.wait_recorded(1)
        assert len(link.batches()) == 3
        assert agent.outbox_depth() == 10

        first, *_ = link.batches()
        link.ack(first[0])
        eventually(lambda: len(link.batches()) == 4, what="the window to move on")
        eventually(lambda: agent.outbox_depth() == 8, what="the acked records to be deleted")

        for sent, _batch in link.batches()[1:]:
            link.ack(sent)
        eventually(lambda: len(link.batches()) == 5, what="the last batch")
        link.ack(link.batches()[-1][0])
        eventually(lambda: agent.outbox_depth() == 0, what="an empty outbox")
    seqs = [r.seq for _s, b in link.batches() for r in b.records]
    assert seqs == list(range(1, 11))


def test_disconnect_forgets_in_flight_and_resends_after_reconnect(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    settings = make_settings(inflight_window=2, batch_max_records=1)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 3)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        first_session = link.connect()
        eventually(lambda: len(link.batches(first_session)) == 2, what="two batches in flight")
        link.drop()
        # A late answer of the dead connection must not delete anything.
        link.ack(link.batches(first_session)[0][0])

        second_session = link.connect()
        eventually(lambda: len(link.batches(second_session)) == 2, what="the resend")
        resent = [b.records[0].seq for _s, b in link.batches(second_session)]
        assert resent == [1, 2]
        assert agent.outbox_depth() == 3
        eventually(lambda: link.ack_all() == 0 and agent.outbox_depth() == 0, what="all acked")
    assert [b.records[0].seq for _s, b in link.batches(second_session)] == [1, 2, 3]


def test_a_refused_batch_is_kept_and_resent_after_a_backoff(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    settings = make_settings(reconnect_min_s=5, reconnect_max_s=60)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 2)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 1, what="the batch")
        link.ack(link.batches()[0][0], accepted=False, reason="Not authorized")
        assert agent.wait_recorded(1)
        assert agent.outbox_depth() == 2  # kept
        assert agent.indicator.error == "broker refused counts: Not authorized"
        assert not agent.flush(0.2)
        assert len(link.batches()) == 1  # nothing more during the pause
        clock.advance(5)
        eventually(lambda: len(link.batches()) == 2, what="the resend after the pause")
        link.ack(link.batches()[1][0], reason="No matching subscribers")  # 0x10 is success
        eventually(lambda: agent.outbox_depth() == 0, what="the records to go")
        assert agent.indicator.error is None
    first, second = (s.message.payload for s, _b in link.batches())
    assert first[first.index(b'"records"') :] == second[second.index(b'"records"') :]


def test_batches_are_the_stored_bytes_and_are_frozen_before_they_leave(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    settings = make_settings(batch_max_records=3)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 7)
    stored = Outbox(settings.outbox_path, bucket_seconds=60)
    bodies = [body for _seq, body in stored.pending_bodies(10)]
    with Agent(settings, pin_factory=factory, clock=clock, link=link):
        link.connect()
        eventually(lambda: len(link.batches()) == 3, what="three batches")
        assert stored.published_upto() == 7  # written before any of them was handed over
        sent = [s.message.payload for s, _b in link.batches()]
        link.ack_all()
    for payload, batch in zip(sent, (b for _s, b in link.batches()), strict=True):
        assert CountBatch.model_validate_json(payload) == batch
    joined = b",".join(p[p.index(b"[") + 1 : -2] for p in sent)
    assert joined == ",".join(bodies).encode()
    stored.close()


def test_payloads_stay_under_the_broker_limit(
    make_settings: SettingsMaker,
    factory: MockFactory,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1000 records of long names and boot ids approach 256 KiB; a smaller limit shows the split.
    limit = 50_000
    monkeypatch.setattr(sender, "MAX_PAYLOAD_BYTES", limit)
    settings = make_settings(batch_max_records=1000)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 1000)
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        assert agent.flush(10)
    sizes = [len(s.message.payload) for s, _b in link.batches()]
    assert len(sizes) > 1
    assert max(sizes) <= limit
    assert sum(len(b.records) for _s, b in link.batches()) == 1000


def test_heartbeats_follow_the_connection_and_the_clock(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    with Agent(
        make_settings(heartbeat_seconds=30), pin_factory=factory, clock=clock, link=link
    ) as agent:
        assert agent.wait_recorded(1)
        assert link.heartbeats() == []  # nothing while disconnected
        link.connect()
        eventually(lambda: len(link.heartbeats()) == 1, what="the first heartbeat")
        clock.advance(31)
        eventually(lambda: len(link.heartbeats()) == 2, what="the next heartbeat")
    beat = link.heartbeats()[-1]
    assert beat.exhibit_id == "exhibit-001"
    assert beat.boot_id == "fake-boot-0001"
    assert beat.clock_synced is True
    assert beat.outbox_depth == 0
    assert beat.uptime_s == pytest.approx(1031)


def test_clean_stop_says_offline_and_keeps_open_buckets(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    settings = make_settings()
    agent = Agent(settings, pin_factory=factory, clock=clock, link=link)
    agent.start()
    press(factory, clock, times=2)
    agent.stop()
    status = closed_status(link)
    assert isinstance(status, Status)
    assert status.online is False
    assert status.at is not None
    assert status.inputs == ["button", "motion"]
    reopened = Outbox(settings.outbox_path, bucket_seconds=60)
    assert (reopened.open_buckets(), reopened.depth()) == (1, 0)  # nothing sealed extra
    reopened.close()


def test_crash_sends_no_farewell_and_a_new_agent_carries_on(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings()
    crashed_link = FakeLink()
    first = Agent(settings, pin_factory=factory, clock=clock, link=crashed_link)
    first.start()
    press(factory, clock, times=4)
    assert first.wait_recorded(5)
    first.crash()
    assert crashed_link.closed == (None, True)

    clock.reboot("fake-boot-0002")
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as second:
        assert second.outbox_depth() == 1  # the old boot's bucket was sealed on start
        link.connect()
        press(factory, clock, times=1)
        assert second.flush(5)
    records = link.records()
    assert [(r.seq, r.boot_id, r.type) for r in records] == [
        (1, "fake-boot-0001", "count"),  # the old boot's bucket, sealed on start
        (2, "fake-boot-0001", "session"),  # and its session: a new boot ends it
        (3, "fake-boot-0002", "count"),
        (4, "fake-boot-0002", "session"),
    ]
    assert link.counted() == {"button": 5}
    assert [s.interactions for s in link.sessions()] == [4, 1]


def test_lifecycle_misuse_is_an_agent_state_error(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock, link: FakeLink
) -> None:
    agent = Agent(make_settings(), pin_factory=factory, clock=clock, link=link)
    with pytest.raises(AgentStateError):
        agent.flush(1)
    with pytest.raises(AgentStateError):
        _ = agent.inputs
    agent.start()
    with pytest.raises(AgentStateError, match="starts once"):
        agent.start()
    agent.stop()
    agent.stop()  # idempotent
    assert agent.state == "stopped"
    with pytest.raises(AgentStateError):
        agent.wait_recorded(1)


def test_a_failing_outbox_stops_the_worker_visibly(
    agent: Agent,
    factory: MockFactory,
    clock: FakeClock,
    link: FakeLink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise OutboxError("disk full")

    monkeypatch.setattr(Outbox, "add", broken)
    press(factory, clock)
    assert not agent.wait_recorded(2)
    assert isinstance(agent.failure, OutboxError)
    assert not agent.flush(0.1)
