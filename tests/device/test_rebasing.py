"""Clocks lie: an unsynced boot re-based once the clock syncs, and a clock jump changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import CountRecord
from device.core.clock import FakeClock
from device.core.events import Interaction
from device.outbox.rebasing import rebase_boot, wall_at
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from tests.device import hands
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, eventually

FAKE_HWCLOCK = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # saved at the last shutdown
REAL = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def press(agent: Agent, factory: MockFactory, clock: FakeClock, times: int = 1) -> None:
    hands.press(factory, clock, times=times, gap=0.9)
    assert agent.wait_recorded(5)


def test_an_unsynced_boot_is_rebased_when_the_clock_syncs_except_what_left(
    make_settings: SettingsMaker, factory: MockFactory
) -> None:
    clock = FakeClock(wall=FAKE_HWCLOCK, monotonic=100.0, synced=False, boot_id="boot-1")
    link = FakeLink(auto_ack=True)
    settings = make_settings(bucket_seconds=60, session_idle_s=30)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        press(agent, factory, clock, 2)  # mono 100, 101: bucket 60-120, session A
        clock.advance(60)
        eventually(lambda: len(link.records()) == 2, what="bucket and session A, unsynced")
        link.drop()  # the school's Wi-Fi goes away
        press(agent, factory, clock, 3)  # mono 162-164: bucket 120-180, session B
        clock.advance(120)
        eventually(lambda: agent.outbox_depth() == 2, what="bucket 2 and session B sealed")
        press(agent, factory, clock, 1)  # mono 285: an open bucket and session C

        # NTP steps the wall clock; monotonic time says when everything really happened.
        offset = REAL.timestamp() - clock.monotonic()
        clock.set_wall(REAL, synced=True)
        eventually(lambda: agent.clock_synced, what="the worker to see the sync")
        link.connect()
        assert agent.flush(5)

    records = {r.seq: r for r in link.records()}
    assert [records[s].type for s in sorted(records)] == ["count", "session"] * 3
    # Delivered before the sync: unchanged (the fleet re-bases those from a synced record).
    assert (records[1].clock_synced, records[1].start) == (
        False,
        FAKE_HWCLOCK - timedelta(seconds=40),
    )
    assert (records[2].clock_synced, records[2].start) == (False, FAKE_HWCLOCK)
    # Never published, open or in progress at the sync: re-based on this boot's monotonic clock.
    for seq in (3, 4, 5, 6):
        assert records[seq].clock_synced is True
        assert records[seq].start == wall_at(offset, records[seq].mono_start)
    assert records[4].start == REAL - timedelta(seconds=286 - 162)


def test_a_start_after_the_sync_rebases_what_an_earlier_run_left_unsynced(
    make_settings: SettingsMaker, factory: MockFactory
) -> None:
    clock = FakeClock(wall=FAKE_HWCLOCK, monotonic=100.0, synced=False)
    settings = make_settings()
    crashed = Agent(settings, pin_factory=factory, clock=clock, link=FakeLink())
    crashed.start()
    press(crashed, factory, clock, 2)
    crashed.crash()  # restarted by systemd later in the same boot, after NTP synced
    clock.set_wall(REAL, synced=True)
    offset = REAL.timestamp() - clock.monotonic()

    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        assert agent.flush(5)
    count, session = link.records()
    assert (count.clock_synced, session.clock_synced) == (True, True)
    assert count.start == wall_at(offset, count.mono_start)
    assert session.start == wall_at(offset, 100.0)


def test_a_clock_jump_moves_no_count_between_buckets_and_leaves_dwell_alone(
    make_settings: SettingsMaker, factory: MockFactory
) -> None:
    clock = FakeClock(wall=REAL, monotonic=1000.0)
    link = FakeLink(auto_ack=True)
    settings = make_settings(bucket_seconds=60, session_idle_s=600)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        press(agent, factory, clock, 3)  # bucket 960-1020, wall from REAL - 40 s
        clock.set_wall(REAL - timedelta(hours=1))  # a careless step back, still "synced"
        press(agent, factory, clock, 2)  # same monotonic bucket
        clock.advance(60)
        press(agent, factory, clock, 1)  # the next bucket
        assert agent.flush(5)
    counts = [r for r in link.records() if isinstance(r, CountRecord)]
    assert [(r.mono_start, r.count) for r in counts] == [(960, 5), (1020, 1)]
    assert counts[0].start == REAL - timedelta(seconds=40)  # set by its first press
    # mono 1065 is REAL - 1 h + 62 s on the stepped clock; its bucket began 45 s earlier.
    assert counts[1].start == REAL - timedelta(hours=1) + timedelta(seconds=17)
    (session,) = link.sessions()
    assert session.dwell_s == pytest.approx(65)  # monotonic: the jump is not in it
    assert [r.seq for r in link.records()] == [1, 2, 3]


def test_rebasing_touches_only_the_current_boot(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, bucket_seconds=60)
    for boot in ("old", "current"):
        outbox.add([Interaction("b", FAKE_HWCLOCK, 100.0)], boot_id=boot, clock_synced=False)
    outbox.seal_all()
    assert rebase_boot(outbox, boot_id="current", offset_s=REAL.timestamp()) == 1
    old, current = sorted(outbox.pending(10), key=lambda r: r.boot_id != "old")
    assert (old.boot_id, old.clock_synced) == ("old", False)
    assert (current.boot_id, current.clock_synced) == ("current", True)
    assert current.start == REAL + timedelta(seconds=60)
    outbox.close()
