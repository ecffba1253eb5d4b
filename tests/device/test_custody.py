"""End-to-end custody in the agent: a record leaves only once the fleet says it is stored.

The fake link plays the broker (PUBACK) and the fleet (custody messages) separately, so
each test decides what the world did: a broker that took a message and then lost it in a
crash (PUBACK, no custody), a fleet that confirms some of it, a reconnect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Custody, Resend
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, eventually
from tests.device.hands import press
from tests.device.test_agent import seed_records

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTODY = exhibit_topic("exhibit-001", Channel.CUSTODY)
RESEND = exhibit_topic("exhibit-001", Channel.RESEND)


def seqs_of(link: FakeLink, session: int | None = None) -> list[list[int]]:
    """The seqs of each count batch sent, in order."""
    return [[r.seq for r in batch.records] for _s, batch in link.batches(session)]


def retained(settings: AgentSettings) -> list[int]:
    """Seqs the agent keeps as confirmed (read alongside the running agent, as WAL allows)."""
    outbox = Outbox(settings.outbox_path, bucket_seconds=60, readonly=True)
    try:
        return [row[0] for row in outbox.db.execute("SELECT seq FROM retained ORDER BY seq")]
    finally:
        outbox.close()


def settle(agent: Agent) -> None:
    """Two worker turns: whatever was queued has been acted on."""
    assert agent.wait_recorded(2)
    assert agent.wait_recorded(2)


def test_the_brokers_puback_is_not_custody(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(batch_max_records=2)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 4)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 2, what="both batches")
        for sent, _batch in link.batches():
            link.ack(sent, confirm=False)  # the broker has them; the fleet never will
        settle(agent)
        assert agent.outbox_depth() == 4
        assert retained(settings) == []
        link.confirm(link.batches()[0][0])
        eventually(lambda: agent.outbox_depth() == 2, what="the confirmed batch to leave")
        assert retained(settings) == [1, 2]


def test_unconfirmed_records_go_again_in_order_after_the_custody_timeout(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(batch_max_records=2, custody_timeout_s=30, custody_timeout_max_s=120)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 6)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        session = link.connect()
        eventually(lambda: len(link.batches()) == 3, what="three batches")
        first, middle, last = (sent for sent, _b in link.batches())
        for sent in (first, middle, last):
            link.ack(sent, confirm=False)
        link.confirm(middle)  # one of two ingest workers stored it; the other one is dead
        eventually(lambda: agent.outbox_depth() == 4, what="the middle batch to leave")
        clock.advance(29)
        settle(agent)
        assert len(link.batches()) == 3, "sent again before the timeout"
        clock.advance(2)
        eventually(lambda: len(link.batches()) == 5, what="the unconfirmed batches again")
        assert seqs_of(link, session)[3:] == [[1, 2], [5, 6]]
        for sent, _b in link.batches()[3:]:
            link.ack(sent)
        eventually(lambda: agent.outbox_depth() == 0, what="everything confirmed")
    assert retained(settings) == [1, 2, 3, 4, 5, 6]


def test_with_no_confirmation_at_all_the_timeout_doubles_and_any_confirmation_resets_it(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(custody_timeout_s=10, custody_timeout_max_s=40)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 1)
    link = FakeLink()
    waited = []
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 1, what="the batch")
        for round_ in range(1, 5):  # the fleet is down: nothing is ever confirmed
            link.ack(link.batches()[-1][0], confirm=False)
            settle(agent)
            seconds = 0
            while len(link.batches()) == round_:
                clock.advance(5)
                seconds += 5
                settle(agent)
                assert seconds <= 60, "never sent again"
            waited.append(seconds)
        assert waited == [10, 20, 40, 40]
        link.ack(link.batches()[-1][0])  # the fleet is back
        eventually(lambda: agent.outbox_depth() == 0, what="the confirmation")

        before = len(link.batches())
        press(factory, clock, gap=0)
        clock.advance(60)  # the new press's bucket (and session) are sealed and sent
        eventually(lambda: len(link.batches()) > before, what="the new records")
        settle(agent)
        sent = len(link.batches())
        for batch, _b in link.batches()[before:]:
            link.ack(batch, confirm=False)
        settle(agent)
        clock.advance(9)
        settle(agent)
        assert len(link.batches()) == sent
        clock.advance(1)  # back to the first timeout: the confirmation reset it
        eventually(lambda: len(link.batches()) > sent, what="the resend after 10 s")


def test_a_reconnect_sends_again_what_the_broker_took_and_the_fleet_did_not_confirm(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(batch_max_records=3)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 3)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        first = link.connect()
        eventually(lambda: len(link.batches(first)) == 1, what="the batch")
        link.ack(link.batches(first)[0][0], confirm=False)  # then Mosquitto is killed
        settle(agent)
        link.drop()
        second = link.connect()
        eventually(lambda: seqs_of(link, second) == [[1, 2, 3]], what="the resend")
        link.ack(link.batches(second)[0][0])
        eventually(lambda: agent.outbox_depth() == 0, what="the confirmation")


def test_the_window_bounds_what_waits_for_the_fleet(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(inflight_window=3, batch_max_records=1)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 10)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 3, what="a full window")
        for sent, _b in link.batches():
            link.ack(sent, confirm=False)  # the fleet is down: Mosquitto queues for it
        settle(agent)
        assert len(link.batches()) == 3  # at most a window's worth waits in the broker
        link.confirm(link.batches()[0][0])
        eventually(lambda: len(link.batches()) == 4, what="the window to move on")
        assert seqs_of(link) == [[1], [2], [3], [4]]


def test_custody_counts_only_for_this_exhibits_records_handed_to_the_broker(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(inflight_window=1, batch_max_records=1)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 3)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 1, what="the first record")
        link.ack(link.batches()[0][0], confirm=False)

        def custody(exhibit_id: str = "exhibit-001", below: int = 4) -> bytes:
            return Custody(exhibit_id=exhibit_id, stored_below=below, at=T0).to_payload()

        link.deliver(CUSTODY, custody(exhibit_id="exhibit-002"))
        link.deliver(CUSTODY, b'{"schema_version":1,"exhibit_id":"exhibit-001"}')
        link.deliver(CUSTODY, b"\x00garbage")
        settle(agent)
        assert agent.outbox_depth() == 3
        # A custody claim beyond what was handed over (seq 1) is not about these records.
        link.deliver(CUSTODY, custody(below=4))
        eventually(lambda: agent.outbox_depth() == 2, what="seq 1 to be confirmed")
        assert retained(settings) == [1]
        eventually(lambda: seqs_of(link) == [[1], [2]], what="the next record")


def test_confirmed_records_are_kept_and_a_resend_request_sends_them_again_once(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(batch_max_records=10)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 6)
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        session = link.connect()
        assert agent.flush(5)
        assert retained(settings) == [1, 2, 3, 4, 5, 6]
        request = Resend(exhibit_id="exhibit-001", command_id="restore-1", from_seq=4, issued_at=T0)
        link.deliver(RESEND, request.to_payload())  # the fleet was restored from a backup
        eventually(lambda: seqs_of(link, session)[1:] == [[4, 5, 6]], what="the resend")
        eventually(lambda: agent.outbox_depth() == 0, what="confirmed again")
        # The retained request comes again after every reconnect: it runs once.
        link.drop()
        again = link.connect()
        link.deliver(RESEND, request.to_payload())
        settle(agent)
        assert seqs_of(link, again) == []
        assert agent.outbox_depth() == 0
    assert retained(settings) == [1, 2, 3, 4, 5, 6]


def test_a_resend_below_what_is_still_held_sends_what_there_is(
    make_settings: SettingsMaker,
    factory: MockFactory,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(batch_max_records=10)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 4)
    box = Outbox(settings.outbox_path, bucket_seconds=60)
    box.db.execute(  # seqs 1-2 were confirmed long ago and dropped
        "INSERT INTO retained (seq, kind, body, confirmed_at) "
        "SELECT seq, kind, body, 0 FROM records WHERE seq > 2"
    )
    box.db.execute("DELETE FROM records")
    box.mark_published(4)
    box.close()
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        request = Resend(exhibit_id="exhibit-001", command_id="r1", from_seq=1, issued_at=T0)
        link.deliver(RESEND, request.to_payload())
        eventually(lambda: seqs_of(link) == [[3, 4]], what="what is still held")
        assert agent.flush(5)
    assert "holds none below 3 any more" in caplog.text


def test_an_agent_restart_keeps_what_was_confirmed_and_resends_the_rest(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(batch_max_records=2)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 4)
    link = FakeLink()
    agent = Agent(settings, pin_factory=factory, clock=clock, link=link)
    agent.start()
    link.connect()
    eventually(lambda: len(link.batches()) == 2, what="both batches")
    first, second = (sent for sent, _b in link.batches())
    link.ack(first)
    link.ack(second, confirm=False)
    eventually(lambda: agent.outbox_depth() == 2, what="the first confirmation")
    agent.crash()

    again = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=again) as restarted:
        again.connect()
        assert restarted.flush(5)
    assert seqs_of(again) == [[3, 4]]


def test_with_broker_custody_the_puback_confirms(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(custody="broker")
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 3)
    link = FakeLink(fleet=False)  # a fleet that sends no custody messages
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 1, what="the batch")
        link.ack(link.batches()[0][0])
        eventually(lambda: agent.outbox_depth() == 0, what="the PUBACK to confirm")
    assert retained(settings) == [1, 2, 3]


def test_the_heartbeat_reports_the_window_an_exhibit_can_resend(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    settings = make_settings(heartbeat_seconds=30, batch_max_records=2)
    seed_records(Outbox(settings.outbox_path, bucket_seconds=60), 3)
    link = FakeLink()
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        eventually(lambda: len(link.batches()) == 2, what="both batches")
        link.ack(link.batches()[1][0])  # seq 3 confirmed, seqs 1-2 not yet
        eventually(lambda: agent.outbox_depth() == 2, what="the confirmation")
        clock.advance(31)
        eventually(lambda: len(link.heartbeats()) == 2, what="a heartbeat")
    beat = link.heartbeats()[-1]
    assert (beat.outbox_depth, beat.retained_from_seq, beat.retained_records) == (2, 1, 1)


def test_a_version_2_outbox_keeps_its_records_pending(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    seed_records(Outbox(path, bucket_seconds=60), 2)
    box = Outbox(path, bucket_seconds=60)
    box.db.execute("DROP TABLE retained")
    box.db.execute("PRAGMA user_version = 2")
    box.close()
    box = Outbox(path, bucket_seconds=60)
    assert box.depth() == 2  # still waiting for the fleet's word: sent again
    assert box.db.execute("SELECT COUNT(*) FROM retained").fetchone()[0] == 0
    box.close()
