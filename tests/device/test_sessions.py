"""Engagement sessions: bursts ended by the idle timeout, in the same seq stream as counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
from device.core.events import Interaction
from device.outbox.sessions import Sessions
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink, eventually
from tests.device.hands import press

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOOT = "boot-a"


def at(mono: float, name: str = "button") -> Interaction:
    return Interaction(name, T0 + timedelta(seconds=mono - 1000), mono)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", bucket_seconds=60)


def add(sessions: Sessions, outbox: Outbox, *monos: float, visit: int | None = None) -> list[int]:
    with outbox.transaction():
        return sessions.add([at(m) for m in monos], boot_id=BOOT, clock_synced=True, visit_id=visit)


def test_a_burst_is_one_session_and_an_idle_gap_starts_the_next(outbox: Outbox) -> None:
    sessions = Sessions(outbox, idle_s=30)
    assert add(sessions, outbox, 1000, 1010, 1039.9) == []  # gaps under 30 s
    assert sessions.due() == pytest.approx(1069.9)
    sealed = add(sessions, outbox, 1070)  # 30.1 s of silence ended the first one
    assert sealed == [1]
    assert sessions.close_idle(boot_id=BOOT, now_mono=1099.9) == []
    assert sessions.close_idle(boot_id=BOOT, now_mono=1100) == [2]
    first, second = outbox.pending(10)
    assert first.type == second.type == "session"
    assert (first.start, first.mono_start, first.dwell_s, first.interactions) == (
        T0,
        1000,
        pytest.approx(39.9),
        3,
    )
    assert (second.mono_start, second.dwell_s, second.interactions) == (1070, 0, 1)
    outbox.close()


def test_interactions_out_of_order_across_threads_still_make_one_burst(outbox: Outbox) -> None:
    sessions = Sessions(outbox, idle_s=30)
    add(sessions, outbox, 1020, 1000, 1010)  # a sensor thread reported late
    assert sessions.close() == [1]
    (session,) = outbox.pending(10)
    assert (session.mono_start, session.dwell_s, session.interactions) == (1000, 20, 3)
    outbox.close()


def test_a_new_visit_or_a_new_boot_ends_the_session(outbox: Outbox) -> None:
    sessions = Sessions(outbox, idle_s=30)
    add(sessions, outbox, 1000, 1001, visit=7)
    assert add(sessions, outbox, 1002, visit=8) == [1]
    assert sessions.close_idle(boot_id="boot-b", now_mono=5.0) == [2]  # rebooted
    visits = [r.visit_id for r in outbox.pending(10)]
    assert visits == [7, 8]
    outbox.close()


def test_the_session_in_progress_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, bucket_seconds=60)
    add(Sessions(outbox, idle_s=30), outbox, 1000, 1005)
    outbox.close()  # a kill -9 here keeps what was committed

    reopened = Outbox(path, bucket_seconds=60)
    sessions = Sessions(reopened, idle_s=30)
    add(sessions, reopened, 1020)  # same boot, within the idle timeout: it goes on
    assert sessions.close() == [1]
    (session,) = reopened.pending(10)
    assert (session.dwell_s, session.interactions) == (20, 3)
    reopened.close()


def test_the_agent_seals_sessions_with_counts_in_one_gap_free_stream(
    make_settings: SettingsMaker, factory: MockFactory, clock: FakeClock
) -> None:
    link = FakeLink(auto_ack=True)
    settings = make_settings(session_idle_s=30, bucket_seconds=3600)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        # A burst of three, then a burst of two, presses 10, 10, 45 and 5 s apart.
        for gap in (0, 9.75, 9.75, 44.75, 4.75):
            clock.advance(gap)
            press(factory, clock, hold=0.125, gap=0.125)  # binary fractions: exact sums
            assert agent.wait_recorded(5)
        eventually(lambda: len(link.sessions()) == 1, what="the first session")
        clock.advance(30)
        eventually(lambda: len(link.sessions()) == 2, what="the second session")
        assert agent.flush(5)
    first, second = link.sessions()
    assert (first.dwell_s, first.interactions) == (20, 3)
    assert (second.dwell_s, second.interactions) == (5, 2)
    assert second.mono_start == first.mono_start + 65
    seqs = sorted({r.seq for r in link.records()})
    assert seqs == list(range(1, len(seqs) + 1))
    assert link.counted() == {"button": 5}
